// Progressive enhancement: without JavaScript the form posts and the server renders the caption.
// With it: drag and drop, paste, an instant preview, the limits checked before sending, the caption fetched from
// the JSON API, and a copy button that copies the alt text as edited.
//
// Every photo chosen starts a new "turn". A request belongs to the turn that sent it: when another photo is
// chosen (or the same one sent again) the old requests are aborted, and an answer that still arrives from an
// old turn is dropped, so a slow explanation of photo A can never draw over photo B.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const $ = (id) => document.getElementById(id);
  const form = $("upload");
  const input = $("image");
  const dropzone = $("dropzone");
  const beam = $("beam");
  const submit = $("submit");
  const status = $("status");
  const error = $("error");
  const result = $("result");
  const preview = $("preview");
  const noPreview = $("no-preview");
  const answer = $("answer");
  const heading = $("answer-heading");
  const altText = $("alt-text");
  const unsure = $("unsure");
  const confidence = $("confidence");
  const objects = $("objects");
  const textRead = $("text-read");
  const textLines = $("text-lines");
  const candidates = $("candidates");
  const timing = $("timing");
  const copy = $("copy");
  const copied = $("copied");
  const explainStatus = $("explain-status");
  const explainBox = $("explain");
  const words = $("words");
  const heatmap = $("heatmap");
  const folder = $("folder");
  const batch = $("batch");
  const batchHeading = $("batch-heading");
  const batchStatus = $("batch-status");
  const batchRows = $("batch-table").tBodies[0];
  const download = $("download");

  const canCopy = Boolean(navigator.clipboard) || Boolean(document.queryCommandSupported?.("copy"));
  form.noValidate = true; // a folder or a drop leaves the file input empty; the submit handler checks instead
  folder.closest(".folder").hidden = false; // folders need this script
  $("samples").hidden = false; // and so do the samples
  copy.hidden = !canCopy || !altText.value.trim();
  const maxBytes = Number(form.dataset.maxBytes);
  const minSide = Number(form.dataset.minSide);
  const recognisedFloor = Number(form.dataset.recognisedFloor);
  // The server renders the candidates without JavaScript; with it, each gets a button that takes it as the alt text.
  candidates.querySelectorAll("li").forEach((item) => addUseButton(item, item.textContent.trim()));

  let turn = 0;
  let inFlight = new AbortController();
  let chosen = []; // the photos to caption: from the file input, a folder, or a drop

  function newTurn() {
    inFlight.abort();
    inFlight = new AbortController();
    turn += 1;
    return turn;
  }

  function setStatus(message, busy = false) {
    status.textContent = message;
    status.classList.toggle("busy", busy);
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    setStatus("");
  }

  function clearAnswer() {
    answer.hidden = true;
    altText.value = "";
    unsure.hidden = true;
    confidence.textContent = "";
    objects.textContent = "";
    candidates.replaceChildren();
    timing.textContent = "";
    copy.hidden = true;
    copied.textContent = "";
    hideExplanation();
  }

  function showPreview(file) {
    if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
    preview.dataset.url = URL.createObjectURL(file);
    preview.alt = "Your photo";
    preview.hidden = true; // until it loads: a file the browser cannot show never shows a broken image
    noPreview.hidden = true;
    preview.src = preview.dataset.url;
  }

  preview.addEventListener("load", () => {
    preview.hidden = false;
    noPreview.hidden = true;
  });
  preview.addEventListener("error", () => {
    if (!preview.getAttribute("src")) return;
    preview.hidden = true;
    noPreview.hidden = false;
  });

  function choose(files) {
    newTurn();
    chosen = files.filter((f) => f.type.startsWith("image/") || /\.(jpe?g|png|gif|webp|bmp|tiff?|avif|heic|heif)$/i.test(f.name));
    error.hidden = true;
    setStatus("");
    clearAnswer();
    result.hidden = true;
    batch.hidden = true;
    if (!chosen.length) {
      if (files.length) showError("None of these files is a photo this page reads (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC).");
      return;
    }
    const title = dropzone.querySelector(".dropzone-title");
    if (chosen.length === 1) {
      title.textContent = chosen[0].name;
      result.hidden = false;
      showPreview(chosen[0]);
    } else {
      title.textContent = `${chosen.length} photos`;
      showBatch(chosen);
    }
  }

  // A sample is fetched and sent as if it had been chosen, so it meets every check a photo of one's own does.
  document.querySelectorAll(".sample").forEach((button) => button.addEventListener("click", async () => {
    try {
      const response = await fetch(button.dataset.src);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      choose([new File([blob], button.dataset.name, { type: blob.type || "image/jpeg" })]);
      form.requestSubmit();
    } catch {
      showError("The sample photo could not be loaded. Try again, or choose a photo of your own.");
    }
  }));

  input.addEventListener("change", () => choose([...input.files]));
  folder.addEventListener("change", () => choose([...folder.files]));

  ["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragging")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) choose([...event.dataTransfer.files]);
  });

  // The limits the page states, checked before anything is sent: the size in bytes, and, where the browser can
  // decode the file itself, its sides in pixels. A problem is a sentence that says what to do.
  async function problemWith(file) {
    if (file.size > maxBytes) {
      return `${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB: the limit is ${form.dataset.maxText}. ` +
        "Choose a smaller copy of the photo.";
    }
    try {
      const bitmap = await createImageBitmap(file);
      const small = Math.min(bitmap.width, bitmap.height) < minSide;
      const size = `${bitmap.width}x${bitmap.height}`;
      bitmap.close();
      if (small) return `${file.name} is ${size} pixels: too small to describe. Use one at least ${minSide} pixels a side.`;
    } catch {
      // A format this browser cannot decode (HEIC, say): the server reads it and says what is wrong, if anything.
    }
    return null;
  }

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return; // text pasted into the alt text box stays text
    event.preventDefault();
    choose(files);
    dropzone.scrollIntoView({ block: "nearest" });
  });

  function photoForm(file) {
    const body = new FormData();
    body.append("image", file);
    body.append("beam", beam.value);
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosen.length) {
      showError("Choose a photo first.");
      return;
    }
    if (chosen.length > 1) {
      captionBatch();
      return;
    }
    const mine = newTurn();
    const { signal } = inFlight;
    const file = chosen[0];
    error.hidden = true;
    clearAnswer();
    const problem = await problemWith(file);
    if (mine !== turn) return;
    if (problem) {
      result.hidden = true;
      showError(problem);
      return;
    }
    submit.disabled = true;
    setStatus("Captioning your photo…", true);
    try {
      const response = await fetch("/api/caption", { method: "POST", body: photoForm(file), signal });
      const data = await response.json();
      if (mine !== turn) return;
      if (!response.ok) {
        result.hidden = true; // no photo without its answer: the error says what is wrong with it
        showError(data.error || `The server answered ${response.status}.`);
        return;
      }
      showAnswer(data);
      setStatus(data.alt_text ? `Alt text ready: ${data.alt_text}` : `No alt text. ${data.note || ""}`);
      explainPhoto(file, mine, signal);
    } catch (failure) {
      if (failure.name !== "AbortError" && mine === turn) showError("The server could not be reached. Try again.");
    } finally {
      if (mine === turn) submit.disabled = false;
    }
  });

  function showAnswer(data) {
    // The answer is the alt text, as sure as the model is (never the doubted sentence), in a box to edit before
    // copying; the note says why it is hedged or short, or, where it is empty, what to do instead.
    altText.value = data.alt_text || "";
    preview.alt = data.alt_text ? `Your photo: ${data.alt_text}` : "Your photo";
    unsure.textContent = data.note || "";
    unsure.hidden = !data.note;
    confidence.textContent = confidenceWords(data);
    // As app.recognised lists them: none on an unsure answer, no person on a hedged one.
    const seen = data.certainty === "unsure" ? []
      : (data.objects || []).filter((o) => o.probability >= recognisedFloor && (o.kind !== "person" || !data.unsure));
    objects.textContent = seen.length
      ? `Recognised: ${seen.map((o) => `${o.word} (${Math.round(o.probability * 100)}%)`).join(", ")}` : "";
    // The text read in the image, whole (the alt text may quote it shortened), line by line.
    const lines = data.text || [];
    textLines.replaceChildren(...lines.map((line) => {
      const item = document.createElement("li");
      const words = document.createElement("span");
      words.textContent = line.text;
      const sure = document.createElement("span");
      sure.className = "hint";
      sure.textContent = `(${Math.round(line.confidence * 100)}%)`;
      item.append(words, " ", sure);
      return item;
    }));
    textRead.hidden = !lines.length;
    // Best first, as the search ranked them (log-probability / length ** the card's length penalty). No
    // percentage: a whole sentence's probability favours short ones, so its share would rank them otherwise.
    candidates.replaceChildren(...data.candidates.map((c) => {
      const item = document.createElement("li");
      item.className = "candidate";
      const text = document.createElement("span");
      text.textContent = c.caption;
      item.append(text);
      addUseButton(item, c.caption);
      return item;
    }));
    timing.textContent = `Captioned in ${data.timing_ms.total} ms (beam ${data.model.beam}).`;
    copy.hidden = !canCopy;
    answer.hidden = false;
    // The answer is below the form: bring it into view and move focus there, so keyboard and screen-reader
    // users land on it (the submit button they were on is disabled while the request runs).
    heading.focus({ preventScroll: true });
    heading.scrollIntoView({ block: "center" });
  }

  function confidenceWords(data) {
    if (data.confidence === undefined) return "";
    const level = { confident: "high", hedged: "medium" }[data.certainty] || "low";
    return `Confidence: ${level} (${Math.round(data.confidence * 100)}% that the caption names the right things).`;
  }

  // A candidate one click away: its sentence goes into the alt text box, to edit or copy.
  function addUseButton(item, text) {
    const use = document.createElement("button");
    use.type = "button";
    use.className = "secondary";
    use.textContent = "Use this";
    use.setAttribute("aria-label", `Use this: ${text}`);
    use.addEventListener("click", () => {
      altText.value = text.charAt(0).toUpperCase() + text.slice(1).replace(/[.]?$/, ".");
      altText.focus();
    });
    item.append(use);
  }

  altText.addEventListener("input", () => { copied.textContent = ""; });

  // --- many photos: one row each, filled in as its caption arrives ------------------------------------

  function showBatch(files) {
    batchHeading.textContent = `Alt text for ${files.length} photos`;
    batchRows.replaceChildren(...files.map((file) => {
      const row = batchRows.insertRow();
      const thumb = document.createElement("img");
      thumb.alt = "";
      thumb.src = URL.createObjectURL(file);
      thumb.addEventListener("error", () => thumb.remove());
      row.insertCell().append(thumb);
      const name = row.insertCell();
      name.className = "file";
      name.textContent = file.webkitRelativePath || file.name;
      const alt = row.insertCell();
      alt.className = "waiting";
      alt.textContent = "Not captioned yet";
      row.insertCell().className = "confidence";
      row.insertCell();
      return row;
    }));
    batchStatus.textContent = "";
    download.hidden = true;
    batch.hidden = false;
  }

  async function captionBatch() {
    const mine = newTurn();
    const { signal } = inFlight;
    const files = chosen;
    showBatch(files);
    submit.disabled = true;
    batchHeading.focus({ preventScroll: true });
    batchHeading.scrollIntoView({ block: "start" });
    let done = 0;
    let next = 0;
    const report = () => {
      batchStatus.textContent = `Captioned ${done} of ${files.length} photos.`;
      batchStatus.classList.toggle("busy", done < files.length);
    };
    report();
    // Two at a time: a worker captions two photos at once (captioner.serving.PHOTOS_AT_ONCE).
    async function worker() {
      while (next < files.length && mine === turn) {
        const index = next++;
        await captionRow(batchRows.rows[index], files[index], mine, signal);
        if (mine !== turn) return;
        done += 1;
        report();
      }
    }
    await Promise.all([worker(), worker()]);
    if (mine !== turn) return;
    submit.disabled = false;
    download.hidden = false;
    summariseBatch();
  }

  // One row: the limits checked, the photo sent, the row filled with its answer or what went wrong.
  async function captionRow(row, file, mine, signal) {
    row.cells[2].className = "waiting";
    row.cells[2].textContent = "Captioning…";
    row.cells[4].replaceChildren();
    const problem = await problemWith(file);
    if (problem) {
      fillRow(row, null, problem, file);
      return;
    }
    try {
      const response = await fetch("/api/caption", { method: "POST", body: photoForm(file), signal });
      const data = await response.json();
      if (mine !== turn) return;
      fillRow(row, response.ok ? data : null, data.error, file);
    } catch (failure) {
      if (failure.name === "AbortError" || mine !== turn) return;
      fillRow(row, null, "The server could not be reached. Try again.", file);
    }
  }

  // The status counts what happened: "9 captioned (2 unsure: check them), 1 failed." (a failed row has a Retry
  // button; an unsure one says so in its confidence).
  function summariseBatch() {
    const rows = [...batchRows.rows];
    const failed = rows.filter((row) => row.cells[2].className === "error").length;
    const captioned = rows.length - failed;
    const unsure = rows.filter((row) => row.dataset.unsure === "true").length;
    const doubt = unsure ? ` (${unsure} unsure: check ${unsure === 1 ? "it" : "them"})` : "";
    batchStatus.classList.remove("busy");
    batchStatus.textContent = failed ? `${captioned} captioned${doubt}, ${failed} failed.`
      : `Captioned ${captioned} photos${doubt}.`;
  }

  // A row shows the alt text, in a box to edit (or, where there is none, what to do instead), and how sure the
  // model is of it; Copy and the CSV take the box as edited. A failed row says why, and can be tried again.
  function fillRow(row, data, problem, file) {
    const cell = row.cells[2];
    const alt = data ? data.alt_text : "";
    cell.className = !data ? "error" : alt ? "alt" : "note";
    row.dataset.confidence = data && data.confidence !== undefined ? data.confidence : "";
    row.dataset.unsure = data && data.unsure !== undefined ? String(data.unsure) : "";
    row.dataset.text = data && data.text ? data.text.map((line) => line.text).join(" | ") : "";
    row.cells[3].textContent = data && data.confidence !== undefined
      ? `${Math.round(data.confidence * 100)}%${data.unsure ? " (unsure)" : ""}` : "";
    const name = row.cells[1].textContent;
    if (!data) {
      cell.textContent = problem || "No caption.";
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "secondary";
      retry.textContent = "Retry";
      retry.setAttribute("aria-label", `Retry ${name}`);
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        await captionRow(row, file, turn, inFlight.signal);
        summariseBatch();
      });
      row.cells[4].replaceChildren(retry);
      return;
    }
    if (!alt) {
      cell.textContent = data.note || "";
      row.cells[4].replaceChildren();
      return;
    }
    const box = document.createElement("input");
    box.type = "text";
    box.value = alt;
    box.setAttribute("aria-label", `Alt text of ${name}`);
    cell.replaceChildren(box);
    if (!canCopy) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Copy";
    button.setAttribute("aria-label", `Copy the alt text of ${name}`);
    button.addEventListener("click", () => copyText(box.value.trim(), button));
    row.cells[4].replaceChildren(button);
  }

  // A spreadsheet runs a cell that starts with = + - @ or a tab as a formula (OWASP: CSV injection): such a
  // cell gets a leading quote, as captioner/alttext.py's csv_safe does for the CLI's CSV.
  const csvSafe = (text) => (/^'*[=+\-@\t\r]/.test(text) ? `'${text}` : text);
  const csvCell = (text) => `"${csvSafe(text).replaceAll('"', '""')}"`;

  download.addEventListener("click", () => {
    // The CLI's columns, those the page has: the text read is its lines joined by " | ", as the CLI's are.
    const lines = [["image", "alt_text", "text", "confidence", "unsure", "note", "error"].join(",")];
    for (const row of batchRows.rows) {
      const cell = row.cells[2];
      const box = cell.querySelector("input");
      const alt = box ? box.value.trim() : "";
      const note = cell.className === "note" ? cell.textContent : "";
      const failure = cell.className === "error" ? cell.textContent : "";
      lines.push([row.cells[1].textContent, alt, row.dataset.text || "", row.dataset.confidence || "",
        row.dataset.unsure || "", note, failure].map(csvCell).join(","));
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }));
    link.download = "alt-text.csv";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000); // once the download has surely started
  });

  function hideExplanation() {
    explainStatus.hidden = true;
    explainBox.hidden = true;
    heatmap.hidden = true;
    words.replaceChildren();
  }

  // One request computes every word's map; a click only draws one.
  async function explainPhoto(file, mine, signal) {
    explainStatus.hidden = false;
    try {
      const response = await fetch("/api/explain", { method: "POST", body: photoForm(file), signal });
      if (mine !== turn) return;
      if (!response.ok) return; // the caption stands on its own
      const data = await response.json();
      if (mine !== turn) return;
      words.replaceChildren(...data.words.map((word, index) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = word;
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", () => showHeatmap(button, data.heatmaps[index], data.grid));
        return button;
      }));
      explainBox.hidden = false;
    } catch {
      // Explanations are extra: without them (or aborted for a newer photo) the page still has its caption.
    } finally {
      if (mine === turn) explainStatus.hidden = true;
    }
  }

  function showHeatmap(button, cells, grid) {
    const pressed = button.getAttribute("aria-pressed") === "true";
    words.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", "false"));
    if (pressed) {
      heatmap.hidden = true;
      return;
    }
    button.setAttribute("aria-pressed", "true");
    heatmap.width = grid;
    heatmap.height = grid;
    const context = heatmap.getContext("2d");
    context.clearRect(0, 0, grid, grid);
    cells.forEach((row, y) => row.forEach((value, x) => {
      context.fillStyle = `rgba(179, 38, 30, ${value.toFixed(3)})`;
      context.fillRect(x, y, 1, 1);
    }));
    heatmap.hidden = false;
  }

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      if (button) button.textContent = "Copied";
      return true;
    } catch {
      return false;
    }
  }

  copy.addEventListener("click", async () => {
    const alt = altText.value.trim();
    if (!alt) return;
    copied.textContent = (await copyText(alt)) ? "Copied." : `Copy this: ${alt}`;
  });
});

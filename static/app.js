// Progressive enhancement: without JavaScript the form posts and the server renders the caption.
// With it: drag and drop, an instant preview, the caption fetched from the JSON API, and a copy button.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  const input = document.getElementById("image");
  const dropzone = document.getElementById("dropzone");
  const beam = document.getElementById("beam");
  const submit = document.getElementById("submit");
  const error = document.getElementById("error");
  const result = document.getElementById("result");
  const preview = document.getElementById("preview");
  const caption = document.getElementById("caption");
  const unsure = document.getElementById("unsure");
  const altText = document.getElementById("alt-text");
  const confidence = document.getElementById("confidence");
  const objects = document.getElementById("objects");
  const candidates = document.getElementById("candidates");
  const timing = document.getElementById("timing");
  const copy = document.getElementById("copy");
  const copied = document.getElementById("copied");
  const explainBox = document.getElementById("explain");
  const words = document.getElementById("words");
  const heatmap = document.getElementById("heatmap");

  copy.hidden = !navigator.clipboard && !document.queryCommandSupported?.("copy");
  if (caption.textContent.trim()) copy.hidden = false;

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  function showPreview(file) {
    if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
    preview.dataset.url = URL.createObjectURL(file);
    preview.src = preview.dataset.url;
    preview.alt = "Your photo";
    preview.hidden = false;
  }

  input.addEventListener("change", () => {
    if (input.files.length) {
      dropzone.querySelector(".dropzone-title").textContent = input.files[0].name;
      showPreview(input.files[0]);
      result.hidden = false;
      caption.textContent = "";
      unsure.hidden = true;
      confidence.textContent = "";
      objects.textContent = "";
      candidates.replaceChildren();
      timing.textContent = "";
      hideExplanation();
    }
  });

  ["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragging")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.files.length) {
      showError("Choose a photo first.");
      return;
    }
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = "Captioning…";
    result.setAttribute("aria-busy", "true");
    const body = new FormData();
    body.append("image", input.files[0]);
    body.append("beam", beam.value);
    try {
      const response = await fetch("/api/caption", { method: "POST", body });
      const data = await response.json();
      if (!response.ok) {
        showError(data.error || `The server answered ${response.status}.`);
        return;
      }
      caption.textContent = data.caption;
      preview.alt = `Your photo: ${data.alt_text}`;
      altText.textContent = data.alt_text;
      unsure.hidden = !data.unsure;
      confidence.textContent = data.confidence === undefined ? ""
        : `Confidence ${Math.round(data.confidence * 100)}% that the caption names the right things.`;
      const seen = (data.objects || []).filter((o) => o.probability >= 0.1);
      objects.textContent = seen.length
        ? `Recognised: ${seen.map((o) => `${o.word} (${Math.round(o.probability * 100)}%)`).join(", ")}` : "";
      // Whole-sentence probabilities read as "0.3% sure"; their share among the candidates does not.
      const total = data.candidates.reduce((sum, c) => sum + Math.exp(c.log_prob), 0);
      candidates.replaceChildren(...data.candidates.map((c) => {
        const item = document.createElement("li");
        const text = document.createElement("span");
        text.className = "candidate";
        text.textContent = c.caption;
        const probability = document.createElement("span");
        probability.className = "probability";
        probability.textContent = `${Math.round((Math.exp(c.log_prob) / total) * 100)}%`;
        item.append(text, " ", probability);
        return item;
      }));
      timing.textContent = `Captioned in ${data.timing_ms.total} ms (beam ${data.model.beam}).`;
      copy.hidden = false;
      copied.textContent = "";
      explainPhoto(input.files[0], beam.value);
    } catch (failure) {
      showError("The server could not be reached. Try again.");
    } finally {
      submit.disabled = false;
      submit.textContent = "Caption it";
      result.removeAttribute("aria-busy");
    }
  });

  function hideExplanation() {
    explainBox.hidden = true;
    heatmap.hidden = true;
    words.replaceChildren();
  }

  // One request computes every word's map; a click only draws one.
  async function explainPhoto(file, beamWidth) {
    const body = new FormData();
    body.append("image", file);
    body.append("beam", beamWidth);
    try {
      const response = await fetch("/api/explain", { method: "POST", body });
      if (!response.ok) return; // the caption stands on its own
      const data = await response.json();
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
      // Explanations are extra: without them the page still has its caption.
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

  copy.addEventListener("click", async () => {
    const alt = altText.textContent.trim();
    if (!alt) return;
    try {
      await navigator.clipboard.writeText(alt);
      copied.textContent = "Copied.";
    } catch {
      copied.textContent = `Copy this: ${alt}`;
    }
  });
});

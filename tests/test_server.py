"""The app as users meet it: a real server on a free port, over HTTP, and in a real headless browser."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import requests

from captioner.data import REPO_ROOT
from harness.servers import free_port, start_gunicorn, start_server, stop_server

ARTIFACTS = REPO_ROOT / "artifacts"


@pytest.fixture(scope="module")
def gunicorn_server(colour_model):
    """gunicorn as the Procfile runs it, on a free loopback port."""
    _, model_dir = colour_model
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(model_dir)})
    yield url
    stop_server(process)


@pytest.fixture(scope="module")
def dev_server(colour_model):
    """``python app.py`` with HOST and PORT from the environment."""
    _, model_dir = colour_model
    port = free_port()
    process = start_server([sys.executable, "app.py"], {"CAPTIONER_MODEL": str(model_dir), "PORT": str(port),
                                                         "HOST": "127.0.0.1"}, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


def test_gunicorn_captions_a_full_size_photo_over_http(gunicorn_server, photos):
    with open(photos[0], "rb") as photo:
        response = requests.post(f"{gunicorn_server}/api/caption", files={"image": (photos[0].name, photo)},
                                 data={"beam": "2"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["caption"].split()) >= 2 and len(body["candidates"]) == 2
    bad = requests.post(f"{gunicorn_server}/api/caption", files={"image": ("x.jpg", b"nope")}, timeout=30)
    assert bad.status_code == 400 and "not an image" in bad.json()["error"]
    assert requests.get(f"{gunicorn_server}/health", timeout=10).json()["status"] == "ok"


def test_python_app_py_serves_the_page(dev_server):
    page = requests.get(dev_server, timeout=10)
    assert page.status_code == 200 and 'name="image"' in page.text


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no Chromium: apt-get install chromium (CI's .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


def test_browser_uploads_a_photo_and_reads_the_caption(browser, dev_server, photos):
    page = browser.new_page(viewport={"width": 900, "height": 1100})
    page.goto(dev_server)
    page.set_input_files("#image", str(photos[4]))
    page.wait_for_selector("#preview", state="visible", timeout=10_000)
    page.click(".advanced summary")  # the beam width is under "More options"
    page.select_option("#beam", "3")
    page.click("#submit")
    # A selector wait: the page's Content-Security-Policy forbids the eval behind wait_for_function.
    page.wait_for_selector("#candidates li", timeout=60_000)
    alt_text = page.locator("#alt-text").input_value().strip()  # the answer is the alt text, in a box to edit
    assert len(alt_text.split()) >= 2 and alt_text[0].isupper() and alt_text.endswith(".")
    assert page.locator("#candidates li").count() == 3
    assert page.locator("#copy").is_visible()
    assert page.get_attribute("#preview", "alt") == f"Your photo: {alt_text}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-caption.png"), full_page=True)
    print(f"screenshot: {ARTIFACTS / 'browser-caption.png'}")


def test_clicking_a_word_shades_where_it_came_from(browser, dev_server, photos):
    page = browser.new_page(viewport={"width": 900, "height": 1300})
    page.goto(dev_server)
    page.set_input_files("#image", str(photos[2]))
    page.click("#submit")
    page.wait_for_selector("#words button", timeout=60_000)
    words = page.locator("#words button")
    assert words.count() == len(page.locator("#alt-text").input_value().split())
    assert page.locator("#heatmap").is_hidden()
    words.nth(1).click()
    assert page.locator("#heatmap").is_visible()
    assert words.nth(1).get_attribute("aria-pressed") == "true"
    box, photo = page.locator("#heatmap").bounding_box(), page.locator("#preview").bounding_box()
    assert abs(box["width"] - photo["width"]) < 2 and abs(box["height"] - photo["height"]) < 2  # over the photo
    page.screenshot(path=str(ARTIFACTS / "browser-explain.png"), full_page=True)
    words.nth(1).click()  # a second click takes the shading away
    assert page.locator("#heatmap").is_hidden()


def test_without_javascript_the_form_post_shows_the_caption(browser, dev_server, photos):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(dev_server)
    page.set_input_files("#image", str(photos[1]))
    page.click("#submit")
    page.wait_for_load_state()
    assert len(page.locator("#alt-text").input_value().split()) >= 2
    assert page.locator("#candidates li").count() == 3
    page.screenshot(path=str(ARTIFACTS / "browser-no-javascript.png"), full_page=True)
    context.close()


def test_the_api_docs_render_in_the_browser_within_the_page_s_policy(browser, dev_server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{dev_server}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() == 5  # caption, explain, health, model card, the description
    assert page.locator(".opblock-summary-path", has_text="/api/caption").count() == 1
    assert not errors, errors  # a script or style the Content-Security-Policy refused would show here
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-docs.png"), full_page=False)


def expect():
    return pytest.importorskip("playwright.sync_api").expect


def test_the_answer_comes_into_view_with_focus_and_nothing_empty_shows_before_it(browser, dev_server, photos):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(dev_server)
    held = []
    page.route("**/api/caption", lambda route: held.append(route))  # the caption waits until the test lets it go
    page.set_input_files("#image", str(photos[4]))
    page.wait_for_selector("#preview", state="visible", timeout=10_000)
    assert page.locator("#dropzone .dropzone-title").text_content() == photos[4].name
    assert page.locator("#answer").is_hidden() and page.locator("#copy").is_hidden()  # no empty heading, no dead button
    assert page.locator("#beam").is_hidden()  # jargon stays under "More options"
    page.click("#submit")
    expect()(page.locator("#status")).to_have_text("Captioning your photo…")
    while not held:
        page.wait_for_timeout(20)  # the request is on its way (the route sees it)
    held[0].continue_()
    heading = page.locator("#answer-heading")
    expect()(heading).to_be_focused(timeout=60_000)
    expect()(heading).to_be_in_viewport(ratio=1.0)
    expect()(page.locator("#alt-text")).to_be_in_viewport(ratio=1.0)
    expect()(page.locator("#status")).to_contain_text("Alt text ready:")
    page.screenshot(path=str(ARTIFACTS / "browser-answer-in-view.png"))


def test_on_a_phone_the_answer_comes_into_view_too(browser, dev_server, photos):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(dev_server)
    page.set_input_files("#image", str(photos[0]))
    page.click("#submit")
    expect()(page.locator("#answer-heading")).to_be_focused(timeout=60_000)
    expect()(page.locator("#alt-text")).to_be_in_viewport(ratio=1.0)
    page.screenshot(path=str(ARTIFACTS / "browser-phone.png"))


def test_a_file_the_browser_cannot_show_never_shows_a_broken_image(browser, dev_server):
    page = browser.new_page()
    page.goto(dev_server)
    page.set_input_files("#image", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"}])
    expect()(page.locator("#no-preview")).to_be_visible()
    assert page.locator("#preview").is_hidden()
    page.click("#submit")
    expect()(page.locator("#error")).to_contain_text("not an image")
    assert page.locator("#result").is_hidden() and page.locator("#preview").is_hidden()


def test_a_slow_answer_for_an_old_photo_never_draws_over_the_new_one(browser, dev_server, photos):
    """Photo A's word maps are held back while photo B is captioned; let go afterwards, they must not show."""
    page = browser.new_page()
    page.goto(dev_server)
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/explain", hold_the_first)
    page.set_input_files("#image", str(photos[2]))
    page.click("#submit")
    page.wait_for_selector("#explain-status", state="visible", timeout=60_000)
    while not held:
        page.wait_for_timeout(20)
    page.set_input_files("#image", str(photos[4]))  # a new photo while A's maps are on their way
    page.click("#submit")
    page.wait_for_selector("#words button", timeout=60_000)
    b_words = page.locator("#alt-text").input_value().lower().rstrip(".").split()  # the alt text's words
    stale = {"words": ["stale", "maps"], "grid": 2, "heatmaps": [[[1, 0], [0, 0]]] * 2, "caption": "stale maps",
             "log_probs": [0, 0], "timing_ms": {"total": 1}}
    try:
        held[0].fulfill(json=stale)
    except Exception:  # noqa: BLE001 - the page already aborted A's request, as it should
        pass
    page.wait_for_timeout(500)  # time for a stale answer to be (wrongly) drawn
    assert page.locator("#words button").all_text_contents() == b_words
    assert page.locator("#explain-status").is_hidden()


VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def batch_alt_texts(page) -> list[str]:
    """Each row's alt text box as it stands (edited or not), or the row's note or error where it has none."""
    return [row.locator("input").input_value() if row.locator("input").count() else row.text_content()
            for row in page.locator("#batch-table tbody tr td:nth-child(3)").all()]


def heic_of(path: Path) -> bytes:
    """A photo as an iPhone would send it: HEIC."""
    import io

    from PIL import Image

    from captioner.images import read_heif

    read_heif()
    buffer = io.BytesIO()
    Image.open(path).save(buffer, "HEIF", quality=80)
    return buffer.getvalue()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_ten_photos_fill_a_table_and_download_as_formula_safe_csv(browser, dev_server, photos, viewport):
    import csv
    import io

    page = browser.new_page(viewport=VIEWPORTS[viewport], accept_downloads=True)
    page.goto(dev_server)
    files = [{"name": "=HYPERLINK(evil).jpg", "mimeType": "image/jpeg", "buffer": photos[0].read_bytes()},
             {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"},
             {"name": "IMG_0001.HEIC", "mimeType": "image/heic", "buffer": heic_of(photos[1])}]
    files += [{"name": p.name, "mimeType": "image/jpeg", "buffer": p.read_bytes()} for p in photos[2:9]]
    page.set_input_files("#image", files=files)
    assert page.locator("#batch-table tbody tr").count() == 10 and page.locator("#result").is_hidden()
    page.click("#submit")
    expect()(page.locator("#batch-status")).to_have_text("9 captioned, 1 failed.", timeout=120_000)
    cells = batch_alt_texts(page)
    assert "not an image" in cells[1] and all(c.endswith(".") for i, c in enumerate(cells) if i != 1), cells
    assert page.locator("#batch-table tbody button", has_text="Copy").count() == 9  # one for each caption
    assert page.locator("#batch-table tbody button", has_text="Retry").count() == 1  # and the failed one may try again
    page.screenshot(path=str(ARTIFACTS / f"browser-batch-{viewport}.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0] == ["image", "alt_text", "text", "confidence", "unsure", "note", "error"] and len(rows) == 11
    assert rows[1][:2] == ["'=HYPERLINK(evil).jpg", cells[0]] and rows[1][-1] == ""  # no formula from a file name
    assert rows[2][0] == "notes.jpg" and rows[2][1] == "" and "not an image" in rows[2][-1]
    assert rows[3][:2] == ["IMG_0001.HEIC", cells[2]] and rows[3][-1] == ""  # the phone's HEIC, like the rest


AXE = Path(os.environ.get("AXE_CORE", REPO_ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"))


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in found]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_page_passes_an_axe_core_accessibility_audit_in_every_state(browser, dev_server, photos, viewport):
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE}: npm install --prefix .cache/npm axe-core (CI's .ci/run does)")
    context = browser.new_context(bypass_csp=True, viewport=VIEWPORTS[viewport])  # bypass: to inject axe
    page = context.new_page()
    page.goto(dev_server)
    assert axe_violations(page) == [], "the empty page"
    page.click(".advanced summary")
    page.set_input_files("#image", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"nope"}])
    page.click("#submit")
    expect()(page.locator("#error")).to_be_visible()
    assert axe_violations(page) == [], "an error, with the options open"
    page.set_input_files("#image", str(photos[0]))
    page.click("#submit")
    page.wait_for_selector("#words button", timeout=60_000)
    assert axe_violations(page) == [], "a captioned photo"
    page.set_input_files("#image", [str(photos[1]), str(photos[2])])
    page.click("#submit")
    expect()(page.locator("#batch-status")).to_have_text("Captioned 2 photos.", timeout=60_000)
    assert axe_violations(page) == [], "a table of captions"
    context.close()


# --- the page as people who write alt text use it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_server():
    """gunicorn with the shipped model, for what only guidance says (the unsure view, images that are not photos)."""
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(REPO_ROOT / "model")})
    yield url
    stop_server(process)


def png_bytes(size: tuple[int, int], colour=(0, 0, 0)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_text_read_in_an_image_is_quoted_in_the_alt_text_and_listed_under_it(browser, shipped_server):
    import io

    from harness.text_images import fonts_present

    from .test_reading import road_sign

    if not fonts_present():
        pytest.skip("apt-get install fonts-dejavu-core fonts-liberation")
    buffer = io.BytesIO()
    road_sign().save(buffer, "PNG")
    context = browser.new_context(bypass_csp=True)  # bypass: to inject axe-core
    page = context.new_page()
    page.goto(shipped_server)
    page.set_input_files("#image", files=[{"name": "sign.png", "mimeType": "image/png", "buffer": buffer.getvalue()}])
    page.click("#submit")
    expect()(page.locator("#text-read")).to_be_visible(timeout=60_000)
    assert page.locator("#text-lines li span:first-child").all_text_contents() == ["ROAD CLOSED",
                                                                                  "Use the north entrance"]
    assert '"ROAD CLOSED. Use the north entrance"' in page.locator("#alt-text").input_value()
    expect()(page.locator("#unsure")).to_contain_text("read by machine")
    if AXE.is_file():
        assert axe_violations(page) == [], "an answer with text read in the image"
    page.set_input_files("#image", files=[{"name": "black.png", "mimeType": "image/png",
                                           "buffer": png_bytes((300, 200))}])
    page.click("#submit")
    expect()(page.locator("#alt-text")).to_have_value("A plain black image.", timeout=60_000)
    assert page.locator("#text-read").is_hidden()  # the last image's text is gone with it
    context.close()


def test_the_photo_picker_shows_its_focus(browser, dev_server):
    page = browser.new_page()
    page.goto(dev_server)
    page.keyboard.press("Tab")  # the first control on the page
    assert page.evaluate("document.activeElement.id") == "image"
    outline = page.locator("#dropzone").evaluate("zone => getComputedStyle(zone).outlineStyle + ' ' + "
                                                  "getComputedStyle(zone).outlineWidth")
    assert outline == "solid 3px", outline
    page.keyboard.press("Tab")
    assert page.locator("#dropzone").evaluate("zone => getComputedStyle(zone).outlineStyle") == "none"


def test_the_alt_text_is_an_editable_box_and_copy_copies_it_as_edited(browser, dev_server, photos):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"], bypass_csp=True)
    page = context.new_page()
    page.goto(dev_server)
    page.set_input_files("#image", str(photos[0]))
    page.click("#submit")
    page.wait_for_selector("#candidates li button", timeout=60_000)
    box = page.locator("#alt-text")
    shown = box.input_value()
    assert shown[0].isupper() and shown.endswith(".")
    box.fill("A square of one colour, for the test.")
    page.click("#copy")
    expect()(page.locator("#copied")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == "A square of one colour, for the test."
    candidate = page.locator("#candidates li").nth(1)
    candidate.locator("button").click()  # another candidate, one click away
    words = candidate.locator("span").text_content()
    assert box.input_value() == words[0].upper() + words[1:] + "."
    context.close()


def test_an_unsure_answer_shows_only_what_it_is_sure_of_and_never_the_doubted_sentence(browser, shipped_server):
    from harness.non_photos import non_photos

    drawing = next(m for m in non_photos(seed=1) if m.kind == "drawing")
    context = browser.new_context(bypass_csp=True)  # bypass: to inject axe-core
    page = context.new_page()
    page.goto(shipped_server)
    page.set_input_files("#image", files=[{"name": "drawing.png", "mimeType": "image/png",
                                           "buffer": drawing.encoded()}])
    page.click("#submit")
    expect()(page.locator("#answer-heading")).to_be_focused(timeout=60_000)
    assert page.locator("#alt-text").input_value() == ""  # nothing to say: the box waits for a person's words
    expect()(page.locator("#unsure")).to_contain_text("Write its alt text yourself")
    expect()(page.locator("#confidence")).to_contain_text("Confidence: low")
    if AXE.is_file():
        assert axe_violations(page) == [], "an answer with nothing to say"
    page.set_input_files("#image", files=[{"name": "black.png", "mimeType": "image/png",
                                           "buffer": png_bytes((300, 200))}])
    page.click("#submit")
    expect()(page.locator("#alt-text")).to_have_value("A plain black image.", timeout=60_000)
    assert page.locator("#unsure").is_hidden() and page.locator("#objects").text_content() == ""
    context.close()


def test_the_docs_page_adds_no_accessibility_problem_of_its_own(browser, dev_server):
    """Swagger UI brings its own (contrast, nested controls); what the template controls, its landmarks, passes."""
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE}: npm install --prefix .cache/npm axe-core (CI's .ci/run does)")
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{dev_server}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    template = {"landmark-no-duplicate-main", "landmark-main-is-top-level", "landmark-one-main", "html-has-lang",
                "document-title"}
    assert [v for v in axe_violations(page) if v.split(":")[0] in template] == []
    context.close()


def test_the_model_card_page_is_linked_from_the_page_and_passes_axe(browser, dev_server):
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE}: npm install --prefix .cache/npm axe-core (CI's .ci/run does)")
    context = browser.new_context(bypass_csp=True)  # bypass: to inject axe-core
    page = context.new_page()
    page.goto(dev_server)
    page.get_by_role("link", name="Model card").click()
    expect()(page.get_by_role("heading", name="Limitations and biases")).to_be_visible()
    assert page.locator("table").count() >= 1
    assert axe_violations(page) == []
    context.close()


def test_a_pasted_photo_is_taken_as_a_chosen_one(browser, dev_server, photos):
    page = browser.new_page()
    page.goto(dev_server)
    data = list(photos[0].read_bytes())
    page.evaluate("""bytes => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], "pasted.jpg", { type: "image/jpeg" }));
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data }));
    }""", data)
    expect()(page.locator("#dropzone .dropzone-title")).to_have_text("pasted.jpg")
    page.click("#submit")
    expect()(page.locator("#status")).to_contain_text("Alt text ready:", timeout=60_000)


def test_a_sample_photo_is_captioned_in_one_click_as_if_chosen(browser, dev_server):
    from app import SAMPLE_PHOTOS

    file, shows = SAMPLE_PHOTOS[1]
    page = browser.new_page()
    page.goto(dev_server)
    page.get_by_role("button", name=shows).click()
    expect()(page.locator("#dropzone .dropzone-title")).to_have_text(file)
    expect()(page.locator("#status")).to_contain_text("Alt text ready:", timeout=60_000)
    photo = (REPO_ROOT / "static" / "samples" / file).read_bytes()
    answer = requests.post(f"{dev_server}/api/caption", files={"image": (file, photo)}, timeout=60).json()
    assert page.locator("#alt-text").input_value() == answer["alt_text"]


def test_the_limits_are_stated_and_checked_before_anything_is_sent(browser, dev_server):
    page = browser.new_page()
    sent = []
    page.route("**/api/caption", lambda route: (sent.append(route.request.url), route.continue_()))
    page.goto(dev_server)
    expect()(page.locator("#limits")).to_contain_text("up to 10 MB")  # the app's default
    expect()(page.locator("#limits")).to_contain_text("at least 32 pixels a side")
    big = b"\xff\xd8" + bytes(int(10.5 * 2**20))  # its size is all the check needs
    page.set_input_files("#image", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big}])
    page.click("#submit")
    expect()(page.locator("#error")).to_contain_text("big.jpg is 10.5 MB: the limit is 10 MB")
    page.set_input_files("#image", files=[{"name": "tiny.png", "mimeType": "image/png", "buffer": png_bytes((10, 10))}])
    page.click("#submit")
    expect()(page.locator("#error")).to_contain_text("tiny.png is 10x10 pixels: too small to describe")
    assert sent == []


def test_the_batch_status_counts_the_unsure_rows(browser, dev_server, photos):
    """The colour model is never unsure, so the server's answers are made unsure on their way to the page: what is
    under test is the page's count."""
    import json

    def unsure(route):
        answer = route.fetch().json()
        answer.update(alt_text="", unsure=True, certainty="unsure", confidence=0.1, note="Write its alt text yourself.")
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page = browser.new_page()
    page.route("**/api/caption", unsure)
    page.goto(dev_server)
    page.set_input_files("#image", [str(photos[0]), str(photos[1])])
    page.click("#submit")
    expect()(page.locator("#batch-status")).to_have_text("Captioned 2 photos (2 unsure: check them).", timeout=60_000)
    expect()(page.locator("#batch-table tbody tr").first.locator("td").nth(3)).to_have_text("10% (unsure)")


def test_an_edited_row_is_what_the_csv_holds(browser, dev_server, photos):
    import csv
    import io

    page = browser.new_page(accept_downloads=True)
    page.goto(dev_server)
    page.set_input_files("#image", [str(photos[0]), str(photos[1])])
    page.click("#submit")
    expect()(page.locator("#batch-status")).to_have_text("Captioned 2 photos.", timeout=60_000)
    page.locator("#batch-table tbody tr").first.locator("input").fill("=Edited by a person")
    with page.expect_download() as download:
        page.click("#download")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[1][1] == "'=Edited by a person"  # as edited, and still no formula
    assert rows[2][1] == batch_alt_texts(page)[1]

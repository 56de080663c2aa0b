"""The app as users meet it: a real server on a free port, over HTTP, and in a real headless browser."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
import requests

from captioner.data import REPO_ROOT
from tests.servers import free_port, start_gunicorn, start_server, stop_server

ARTIFACTS = REPO_ROOT / "artifacts"


@pytest.fixture(scope="module")
def gunicorn_server(trained_colour_model):
    """gunicorn as the Procfile runs it, on a free loopback port."""
    _, model_dir, _ = trained_colour_model
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(model_dir)})
    yield url
    stop_server(process)


@pytest.fixture(scope="module")
def dev_server(trained_colour_model):
    """``python app.py`` with HOST and PORT from the environment."""
    _, model_dir, _ = trained_colour_model
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
    page.select_option("#beam", "3")
    page.click("#submit")
    # A selector wait: the page's Content-Security-Policy forbids the eval behind wait_for_function.
    page.wait_for_selector("#candidates li", timeout=60_000)
    caption = page.locator("#caption").text_content().strip()
    assert len(caption.split()) >= 2
    assert page.locator("#candidates li").count() == 3
    assert page.locator("#copy").is_visible()
    assert page.get_attribute("#preview", "alt") == f"Your photo: {caption[0].upper() + caption[1:]}."  # its alt text
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
    assert words.count() == len(page.locator("#caption").text_content().split())
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
    assert len(page.locator("#caption").text_content().split()) >= 2
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

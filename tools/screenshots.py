"""The README's screenshots: the page as a user sees it, from gunicorn as the Procfile runs it, in Chromium.

    .venv/bin/python -m tools.screenshots [--model model] [--out docs]

Writes ``page.jpg`` (a full-size photo captioned, a word's map shown), ``batch.jpg`` (a folder's worth of
photos in the table) and ``api-docs.jpg`` (``/docs``), at 1280 pixels wide.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
from pathlib import Path

from PIL import Image

from captioner.data import REPO_ROOT, default_data_root
from harness.servers import start_gunicorn, stop_server

PAGE_PHOTO = "1117972841_2b9261f95f.jpg"  # a dog digging in sand


def save_jpeg(png: bytes, path: Path) -> None:
    Image.open(io.BytesIO(png)).convert("RGB").save(path, "JPEG", quality=82, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--photos", type=Path, default=default_data_root().parent / "photos")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    photos = sorted(args.photos.glob("*.jpg"))
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(args.model.resolve())})
    try:
        with sync_playwright() as playwright:
            chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.set_input_files("#image", str(args.photos / PAGE_PHOTO))
            page.click("#submit")
            page.wait_for_selector("#words button", timeout=120_000)
            page.locator("#words button").nth(2).click()
            save_jpeg(page.screenshot(full_page=True), args.out / "page.jpg")
            page.goto(url)
            page.set_input_files("#image", [str(p) for p in photos[:6]])
            page.click("#submit")
            page.wait_for_selector("#download", state="visible", timeout=120_000)
            save_jpeg(page.screenshot(full_page=True), args.out / "batch.jpg")
            page.goto(f"{url}/docs")
            page.wait_for_selector(".opblock", timeout=60_000)
            page.locator(".opblock-summary").first.click()
            page.wait_for_timeout(500)  # the operation's panel opens with an animation
            save_jpeg(page.screenshot(), args.out / "api-docs.jpg")
            browser.close()
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()

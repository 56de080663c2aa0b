"""A gunicorn worker's memory through captions and explanations, step by step, as the Procfile runs it.

    .venv/bin/python -m benchmarks.measure_memory [--model model/]

One worker serves the model; one client sends, in order: five captions of full-size photos, the page's
default explanation, one at the largest grid, then captions and largest-grid explanations of 40-megapixel
photos (a JPEG, an RGB PNG and an RGBA PNG, tests/uploads.large_photos). After each step it prints how long
the request took and the worker's resident memory now and at its peak so far (/proc). A Basic dyno has 512 MB
for the master and two workers.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import requests
from PIL import Image

from captioner.data import REPO_ROOT
from harness.servers import children, peak_rss_mb, rss_mb, start_gunicorn, stop_server
from harness.uploads import encode, large_photos

MAX_GRID = 12


def steps(photos: list[bytes]) -> list[tuple[str, str, bytes, dict]]:
    """(label, endpoint, photo, fields) in the order they are sent."""
    jpeg_40mp, png_40mp = large_photos(photos[0])
    rgba = Image.open(io.BytesIO(png_40mp)).convert("RGBA")
    rgba.putalpha(200)
    rgba_40mp = encode(rgba, "PNG", compress_level=9)
    return (
        [(f"caption {i + 1}", "caption", photo, {}) for i, photo in enumerate(photos[:5])]
        + [("explain, default grid", "explain", photos[0], {}),
           (f"explain, grid {MAX_GRID}", "explain", photos[1], {"grid": MAX_GRID})]
        + [(f"{label} 40 MP, {what}", endpoint, data, fields)
           for label, data in (("JPEG", jpeg_40mp), ("PNG", png_40mp), ("RGBA PNG", rgba_40mp))
           for what, endpoint, fields in (("caption", "caption", {}),
                                          (f"explain grid {MAX_GRID}", "explain", {"grid": MAX_GRID}))]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    args = parser.parse_args()

    photos = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    if len(photos) < 5:
        sys.exit(f"error: need 5 photos in {args.photos} (pass --photos DIR)")
    plan = steps(photos)
    server, url = start_gunicorn({"CAPTIONER_MODEL": str(args.model)}, workers=1)
    try:
        (worker,) = children(server.pid)
        print(f"worker after start-up: {rss_mb(worker):.0f} MB; master {rss_mb(server.pid):.0f} MB")
        for label, endpoint, photo, fields in plan:
            started = time.perf_counter()
            response = requests.post(f"{url}/api/{endpoint}", files={"image": ("photo", photo)}, data=fields,
                                     timeout=120)
            seconds = time.perf_counter() - started
            print(f"{label:32s} HTTP {response.status_code} {seconds:6.2f} s   worker {rss_mb(worker):5.0f} MB, "
                  f"peak {peak_rss_mb(worker):5.0f} MB", flush=True)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()

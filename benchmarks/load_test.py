"""A bounded load test on loopback: gunicorn as the Procfile runs it, many clients at once.

    .venv/bin/python -m benchmarks.load_test [--requests 1000] [--concurrency 8] [--workers 2] [--model model/]
                                          [--explain-every N] [--grid 6] [--large] [--text N]
                                          [--without-turns]

Sends full-size photos from ../shared/photos to POST /api/caption from a pool of client threads, after a
warm-up, and reports errors, latency (p50/p95/max, which include time queued behind other requests) and
the server's memory: each worker after the warm-up, at the end and at its peak, and the master. With
``--explain-every N`` every Nth request is an explanation (POST /api/explain at ``--grid``), as the page
asks for after each caption; ``--large`` adds a 40-megapixel JPEG and PNG to the photos, ``--text N`` N images of
text (``harness/text_images.py``, as PNG), which the server reads. The memory reported includes the most the
master and workers held at one moment, sampled all through the load. tests/test_load.py runs the same load
(harness/load.py) in CI. ``--without-turns`` points the workers' lock folder nowhere, so that they do not take turns
at large decodes and reading (:func:`captioner.io.heavy_work`), to compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from captioner.data import REPO_ROOT
from harness.load import Request, caption_mix, run_load
from harness.servers import start_gunicorn, stop_server
from harness.text_images import text_uploads
from harness.uploads import large_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    parser.add_argument("--explain-every", type=int, default=0, metavar="N")
    parser.add_argument("--grid", type=int, default=6)
    parser.add_argument("--large", action="store_true", help="add a 40-megapixel JPEG and PNG")
    parser.add_argument("--text", type=int, default=0, metavar="N", help="add N images of text")
    parser.add_argument("--without-turns", action="store_true", help="workers do not take turns at heavy work")
    args = parser.parse_args()

    photos = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    if not photos:
        sys.exit(f"error: no photos in {args.photos} (pass --photos DIR)")
    if args.large:
        photos += large_photos(photos[0])
    if args.text:
        photos += text_uploads(args.text, sorted(args.photos.glob("*.jpg")))
    mix = caption_mix(photos)
    if args.explain_every:
        mix = [Request(r.photo, r.beam, args.grid) if i % args.explain_every == args.explain_every - 1 else r
               for i, r in enumerate(mix * args.explain_every)]
    environment = {"CAPTIONER_MODEL": str(args.model)}
    if args.without_turns:
        environment["CAPTIONER_LOCK_DIR"] = "/nonexistent/captioner-locks"  # no lock file: each worker on its own
    server, url = start_gunicorn(environment, workers=args.workers)
    try:
        report = run_load(url, server.pid, mix, args.requests, args.concurrency)
    finally:
        stop_server(server)
    print(f"gunicorn, {args.workers} workers, {len(photos)} photos ({args.text} of them images of text), beams 1 and 3 "
          "in turn"
          + (f", an explanation (grid {args.grid}) every {args.explain_every}" if args.explain_every else ""))
    print(report.summary())


if __name__ == "__main__":
    main()

"""Measure what serving costs: installed size of requirements.txt, and the server's memory under use.

    .venv/bin/python -m benchmarks.measure_serving [--requests 200] [--workers 1] [--skip-install]

1. Installs requirements.txt alone into a fresh virtual environment under /tmp and reports its size
   (what Heroku installs into the slug, before compression).
2. Starts gunicorn as the Procfile does, with the shipped model, sends full-size photos from
   ../shared/photos over HTTP, and reports the resident memory of the master and each worker after
   the requests, with the latency figures.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from captioner.data import REPO_ROOT
from harness.servers import children, free_port, procfile_command, rss_mb, start_server, stop_server


def installed_size_mb(requirements: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="serving-venv-") as folder:
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        subprocess.run([f"{folder}/bin/python", "-m", "pip", "install", "-q", "-r", str(requirements)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        site = next(Path(folder).glob("lib/python*/site-packages"))
        return sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    args = parser.parse_args()

    if not args.skip_install:
        print(f"requirements.txt installed: {installed_size_mb(REPO_ROOT / 'requirements.txt'):.0f} MB", flush=True)

    port = free_port()
    command = procfile_command(port, args.workers)
    started = time.perf_counter()
    server = start_server(command, {}, port)
    print(f"gunicorn with {args.workers} worker(s) answered /health after {time.perf_counter() - started:.1f} s")
    photos = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    latencies = []
    try:
        for i in range(args.requests):
            t = time.perf_counter()
            response = requests.post(f"http://127.0.0.1:{port}/api/caption", files={"image": ("p.jpg", photos[i % len(photos)])},
                                     data={"beam": str(args.beam)}, timeout=60)
            latencies.append((time.perf_counter() - t) * 1000)
            response.raise_for_status()
        workers = children(server.pid)
        print(f"{args.requests} requests, beam {args.beam}: p50 {statistics.median(latencies):.0f} ms, "
              f"p95 {sorted(latencies)[int(0.95 * len(latencies)) - 1]:.0f} ms")
        print(f"resident memory: master {rss_mb(server.pid):.0f} MB, "
              + ", ".join(f"worker {rss_mb(w):.0f} MB" for w in workers))
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()

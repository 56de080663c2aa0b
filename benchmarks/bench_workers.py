"""Which gunicorn worker class: sync workers against gthread ones, under load and with stalled clients.

    .venv/bin/python -m benchmarks.bench_workers [--requests 400] [--rounds 2] [--threads 4 8]

Each setting serves the shipped model from gunicorn as the Procfile runs it (two workers), with only the
worker class (and threads) overridden on the command line. The settings take turns, ``--rounds`` times, so
that the machine's slow spells fall on all alike. For each: the latency of one client's captions (greedy,
one request at a time), requests/s and latency at concurrency 8 over full-size photos (captions, beams 1 and
3), then how long three normal captions take while four clients
(twice the workers) hold connections that sent their headers and part of a photo, then nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from captioner.data import REPO_ROOT
from harness.load import caption_mix, run_load, stalled_upload
from harness.servers import free_port, procfile_command, start_server, stop_server

STALLED = 4
PATIENCE_S = 10  # how long a normal request may wait behind stalled ones before it counts as unanswered


def with_stalled_clients(url: str, photo: bytes) -> list[float]:
    """Seconds each of three normal captions took while STALLED uploads hold their connections."""
    stalled = [stalled_upload(url, photo) for _ in range(STALLED)]
    time.sleep(0.5)  # the workers have accepted them
    try:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            try:
                _, error = send_within(url, photo)
            except Exception as exception:  # noqa: BLE001  (a timeout is the measurement here)
                error = str(exception)
            times.append(time.perf_counter() - started if error is None else float("inf"))
        return times
    finally:
        for connection in stalled:
            connection.close()


def send_within(url: str, photo: bytes):
    import requests

    response = requests.post(f"{url}/api/caption", data=photo, headers={"Content-Type": "image/jpeg"},
                             timeout=PATIENCE_S)
    return response, None if response.ok else f"HTTP {response.status_code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    args = parser.parse_args()

    photos = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    if not photos:
        sys.exit(f"error: no photos in {args.photos} (pass --photos DIR)")
    # Before: sync workers, and no gunicorn.conf.py (so no receive timeout either).
    settings = {"sync, as before": ["--config", "/dev/null", "--worker-class", "sync"]}
    settings |= {f"gthread, {n} threads": ["--worker-class", "gthread", "--threads", str(n)] for n in args.threads}
    results: dict[str, list] = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, flags in settings.items():
            port = free_port()
            server = start_server(procfile_command(port, workers=2) + flags, {}, port)
            url = f"http://127.0.0.1:{port}"
            try:
                alone = run_load(url, server.pid, caption_mix(photos, beams=(1,)), 100, concurrency=1, warm_up=10)
                report = run_load(url, server.pid, caption_mix(photos), args.requests, concurrency=8, warm_up=40)
                stalled = with_stalled_clients(url, photos[0])
            finally:
                stop_server(server)
            single = statistics.median(alone.latencies_ms["caption"])
            results[name].append((report, stalled, single))
            times = report.latencies_ms["caption"]
            print(f"{name}: one client, greedy p50 {single:.1f} ms; at concurrency 8 "
                  f"{args.requests / report.seconds:.1f} requests/s, p50 {statistics.median(times):.0f} ms, "
                  f"errors {len(report.errors)}; with {STALLED} stalled uploads, normal captions took "
                  + ", ".join("unanswered" if t == float("inf") else f"{t:.2f}" for t in stalled) + " s",
                  flush=True)
    print("\nmedians over rounds:")
    for name, runs in results.items():
        rates = [r.requests / r.seconds for r, _, _ in runs]
        p50s = [statistics.median(r.latencies_ms["caption"]) for r, _, _ in runs]
        worst = max(max(s) for _, s, _ in runs)
        single = statistics.median(one for _, _, one in runs)
        print(f"  {name}: one client {single:.1f} ms; at concurrency 8 {statistics.median(rates):.1f} requests/s, "
              f"p50 {statistics.median(p50s):.0f} ms; "
              f"slowest normal caption beside stalled uploads: "
              + ("unanswered" if worst == float("inf") else f"{worst:.2f} s"))


if __name__ == "__main__":
    main()

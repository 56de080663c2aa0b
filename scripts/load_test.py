"""A bounded load test on loopback: gunicorn as the Procfile runs it, many clients at once.

    .venv/bin/python scripts/load_test.py [--requests 1000] [--concurrency 8] [--workers 2] [--model model/]

Sends full-size photos from ../shared/photos to POST /api/caption from a pool of client threads, after a
warm-up, and reports errors, latency (p50/p95/max, which include time queued behind other requests) and
each worker's resident memory after the warm-up and at the end. tests/test_load.py runs the same
function in CI and checks: no errors, every request well within Heroku's 30 s router limit, memory
growth under 10%.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captioner.data import REPO_ROOT  # noqa: E402
from tests.servers import children, rss_mb, start_gunicorn, stop_server  # noqa: E402


@dataclass
class LoadReport:
    requests: int
    concurrency: int
    errors: list[str]
    latencies_ms: list[float]
    seconds: float
    rss_after_warm_up_mb: list[float]
    rss_at_end_mb: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20)[-1]

    @property
    def rss_growth(self) -> float:
        """The largest relative growth of any worker's resident memory from warm-up to the end."""
        return max(end / start - 1 for start, end in zip(self.rss_after_warm_up_mb, self.rss_at_end_mb))

    def summary(self) -> str:
        return "\n".join([
            f"{self.requests} requests at concurrency {self.concurrency}: {len(self.errors)} errors, "
            f"{self.requests / self.seconds:.1f} requests/s",
            f"latency p50 {self.p50:.0f} ms, p95 {self.p95:.0f} ms, max {max(self.latencies_ms):.0f} ms",
            "worker memory after warm-up " + ", ".join(f"{m:.0f}" for m in self.rss_after_warm_up_mb)
            + " MB; at the end " + ", ".join(f"{m:.0f}" for m in self.rss_at_end_mb)
            + f" MB (growth {self.rss_growth:+.1%})",
        ])


def post_photo(url: str, photo: bytes, beam: int) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        response = requests.post(f"{url}/api/caption", files={"image": ("photo.jpg", photo)},
                                 data={"beam": str(beam)}, timeout=30)
        error = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:200]}"
    except requests.RequestException as exception:
        error = f"{type(exception).__name__}: {exception}"
    return (time.perf_counter() - started) * 1000, error


def run_load(url: str, server_pid: int, photos: list[bytes], total: int = 1000, concurrency: int = 8,
             warm_up: int = 100, beams: tuple[int, ...] = (1, 3)) -> LoadReport:
    """Warm every worker up, then send ``total`` requests from ``concurrency`` threads, photos and beams in turn."""
    def send(i: int) -> tuple[float, str | None]:
        return post_photo(url, photos[i % len(photos)], beams[i % len(beams)])

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(warm_up)))
        workers = children(server_pid)
        rss_before = [rss_mb(pid) for pid in workers]
        started = time.perf_counter()
        results = list(pool.map(send, range(total)))
        seconds = time.perf_counter() - started
    rss_after = [rss_mb(pid) for pid in workers]
    return LoadReport(total, concurrency, [e for _, e in results if e], [t for t, _ in results], seconds,
                      rss_before, rss_after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    args = parser.parse_args()

    photos = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    if not photos:
        sys.exit(f"error: no photos in {args.photos} (pass --photos DIR)")
    server, url = start_gunicorn({"CAPTIONER_MODEL": str(args.model)}, workers=args.workers)
    try:
        report = run_load(url, server.pid, photos, args.requests, args.concurrency)
    finally:
        stop_server(server)
    print(f"gunicorn, {args.workers} workers, {len(photos)} full-size photos, beams 1 and 3 in turn")
    print(report.summary())


if __name__ == "__main__":
    main()

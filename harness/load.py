"""A bounded load on a running server: many clients at once, captions with explanations mixed in.

Shared by ``tests/test_load.py`` (CI) and ``benchmarks/load_test.py`` (the figures in docs/operations.md). Every
request is counted in latency (which includes time queued behind others); the server's memory is read from
/proc: each worker's resident memory after the warm-up and at the end, its peak (VmHWM), and the master's; and,
sampled every few milliseconds all through the load, the most the master and its workers held at the same moment
(what a dyno's memory limit counts: workers' peaks at different moments do not add up).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from harness.servers import children, peak_rss_mb, rss_mb


@dataclass
class Request:
    """One request of the mix: a photo to caption, or with ``grid`` to explain."""
    photo: bytes
    beam: int = 1
    grid: int | None = None

    @property
    def endpoint(self) -> str:
        return "caption" if self.grid is None else "explain"


@dataclass
class LoadReport:
    requests: int
    concurrency: int
    errors: list[str]
    latencies_ms: dict[str, list[float]]  # by endpoint
    seconds: float
    rss_after_warm_up_mb: list[float]
    rss_at_end_mb: list[float]
    peak_rss_mb: list[float] = field(default_factory=list)
    master_rss_mb: float = 0.0
    highest_total_mb: float = 0.0  # the master and workers together, at the sampled moment they held most

    @property
    def all_latencies_ms(self) -> list[float]:
        return [t for times in self.latencies_ms.values() for t in times]

    @property
    def rss_growth(self) -> float:
        """The largest relative growth of any worker's resident memory from warm-up to the end."""
        return max(end / start - 1 for start, end in zip(self.rss_after_warm_up_mb, self.rss_at_end_mb))

    @property
    def server_rss_mb(self) -> float:
        """The master and its workers at the end: what a dyno's memory limit counts (shared pages twice)."""
        return self.master_rss_mb + sum(self.rss_at_end_mb)

    def summary(self) -> str:
        lines = [f"{self.requests} requests at concurrency {self.concurrency}: {len(self.errors)} errors, "
                 f"{self.requests / self.seconds:.1f} requests/s"]
        for endpoint, times in self.latencies_ms.items():
            lines.append(f"{endpoint} ({len(times)}): p50 {statistics.median(times):.0f} ms, "
                         f"p95 {percentile_95(times):.0f} ms, max {max(times):.0f} ms")
        megabytes = lambda values: ", ".join(f"{m:.0f}" for m in values)  # noqa: E731
        lines.append(f"worker memory after warm-up {megabytes(self.rss_after_warm_up_mb)} MB; at the end "
                     f"{megabytes(self.rss_at_end_mb)} MB (growth {self.rss_growth:+.1%}); peak "
                     f"{megabytes(self.peak_rss_mb)} MB")
        lines.append(f"master {self.master_rss_mb:.0f} MB; master + workers {self.server_rss_mb:.0f} MB at the end, "
                     f"{self.highest_total_mb:.0f} MB at the most at one moment")
        return "\n".join(lines)


def percentile_95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def send(url: str, request: Request) -> tuple[float, str | None]:
    """POST one photo as a browser's form does; the time it took, and an error or None."""
    started = time.perf_counter()
    fields = {"beam": str(request.beam)} | ({} if request.grid is None else {"grid": str(request.grid)})
    try:
        response = requests.post(f"{url}/api/{request.endpoint}", files={"image": ("photo.jpg", request.photo)},
                                 data=fields, timeout=30)
        error = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:200]}"
    except requests.RequestException as exception:
        error = f"{type(exception).__name__}: {exception}"
    return (time.perf_counter() - started) * 1000, error


def caption_mix(photos: list[bytes], beams: tuple[int, ...] = (1, 3)) -> list[Request]:
    """Captions of every photo, the beams taking turns."""
    return [Request(photo, beams[i % len(beams)]) for i, photo in enumerate(photos)]


def run_load(url: str, server_pid: int, mix: list[Request], total: int = 1000, concurrency: int = 8,
             warm_up: int = 100) -> LoadReport:
    """Warm every worker up, then send ``total`` requests of ``mix`` in turn from ``concurrency`` threads."""
    def one(i: int) -> tuple[str, float, str | None]:
        request = mix[i % len(mix)]
        return (request.endpoint, *send(url, request))

    with ThreadPoolExecutor(concurrency) as pool, TotalMemory(server_pid) as memory:
        list(pool.map(one, range(warm_up)))
        workers = children(server_pid)
        rss_before = [rss_mb(pid) for pid in workers]
        started = time.perf_counter()
        results = list(pool.map(one, range(total)))
        seconds = time.perf_counter() - started
    latencies: dict[str, list[float]] = {}
    for endpoint, milliseconds, _ in results:
        latencies.setdefault(endpoint, []).append(milliseconds)
    return LoadReport(total, concurrency, [e for _, _, e in results if e], latencies, seconds, rss_before,
                      [rss_mb(pid) for pid in workers], [peak_rss_mb(pid) for pid in workers], rss_mb(server_pid),
                      memory.highest_mb)


class TotalMemory:
    """Samples the resident memory of a server and its workers together, every ``interval`` seconds on a thread
    of its own, and keeps the most seen (``highest_mb``). A worker that has just died or been replaced is skipped
    in that sample."""

    def __init__(self, server_pid: int, interval: float = 0.005):
        self.server_pid, self.interval = server_pid, interval
        self.highest_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "TotalMemory":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            total = 0.0
            try:
                pids = [self.server_pid, *children(self.server_pid)]
            except OSError:  # the server has gone
                return
            for pid in pids:
                try:
                    total += rss_mb(pid)
                except (OSError, ValueError):
                    continue
            self.highest_mb = max(self.highest_mb, total)


def stalled_upload(url: str, photo: bytes, headers_only: bool = False) -> socket.socket:
    """A client that sends its headers (and the first KB of the photo), then nothing."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    head = b"POST /api/caption HTTP/1.1\r\nHost: test\r\nContent-Type: image/jpeg\r\n"
    if headers_only:
        connection.sendall(head)  # not even the blank line that ends the headers
    else:
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(photo) + photo[:1024])
    return connection

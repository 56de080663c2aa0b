"""gunicorn with two workers and the shipped model under load, and with one of its workers killed."""

from __future__ import annotations

import os
import signal
import time

import pytest

from captioner.data import REPO_ROOT
from scripts.load_test import post_photo, run_load
from tests.servers import children, rss_mb, start_gunicorn, stop_server

HEROKU_ROUTER_LIMIT_MS = 30_000


@pytest.fixture(scope="module")
def two_workers():
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(REPO_ROOT / "model")}, workers=2)
    yield process, url
    stop_server(process)


@pytest.fixture(scope="module")
def photo_bytes(photos):
    return [p.read_bytes() for p in photos]


def test_1000_requests_at_concurrency_8_without_errors_or_memory_growth(two_workers, photo_bytes):
    process, url = two_workers
    report = run_load(url, process.pid, photo_bytes, total=1000, concurrency=8)
    print(report.summary())
    assert report.errors == []
    assert max(report.latencies_ms) < HEROKU_ROUTER_LIMIT_MS / 3  # queued behind 7 others, still far inside
    assert report.rss_growth < 0.10
    # A Basic dyno has 512 MB for the master and app.json's two workers.
    assert rss_mb(process.pid) + sum(report.rss_at_end_mb) < 512


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(two_workers, photo_bytes):
    process, url = two_workers
    workers = children(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    errors = [error for i in range(40) if (error := post_photo(url, photo_bytes[i % len(photo_bytes)], 1)[1])]
    assert errors == []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the master notices, forks a new worker, and it loads the model
        replaced = children(process.pid)
        if len(replaced) == 2 and workers[0] not in replaced:
            break
        time.sleep(0.2)
    assert len(replaced) == 2 and workers[0] not in replaced
    os.kill(workers[1], signal.SIGKILL)  # now only the new worker is left to answer
    errors = [error for i in range(20) if (error := post_photo(url, photo_bytes[i % len(photo_bytes)], 3)[1])]
    assert errors == []

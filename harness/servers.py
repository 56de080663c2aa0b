"""Real server processes for tests and benchmarks: gunicorn as the Procfile runs it, on a free port.

Shared by the HTTP tests (``tests/test_server.py``, ``tests/test_hostile_uploads.py``, ...) and the scripts
that measure a running server (``harness/load.py``, ``benchmarks/bench_serving.py``, ...).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from captioner.data import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(port: int, workers: int = 1) -> list[str]:
    """The Procfile's ``web`` command, bound to loopback, with this environment's gunicorn."""
    procfile = (REPO_ROOT / "Procfile").read_text().split(":", 1)[1].strip()
    command = procfile.replace("${HOST:-0.0.0.0}:$PORT", f"127.0.0.1:{port}")
    command = command.replace("${WEB_CONCURRENCY:-1}", str(workers))
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [gunicorn if word == "gunicorn" else word.strip("'") for word in command.split()]


def start_server(command: list[str], env: dict, port: int, timeout: float = 90) -> subprocess.Popen:
    """Start ``command`` and wait until ``/health`` answers 200; output goes to ``process.stdout``."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{process.stdout.read()}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return process
            except (requests.ConnectionError, requests.Timeout):  # gunicorn accepts before its worker is ready
                time.sleep(0.3)
        raise RuntimeError("server did not answer /health in time")
    except BaseException:
        stop_server(process)  # never leave a server behind, whatever went wrong
        raise


def start_gunicorn(env: dict, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    return start_server(procfile_command(port, workers), env, port), f"http://127.0.0.1:{port}"


def stop_server(process: subprocess.Popen) -> str:
    """Stop the server's whole process group; its output so far."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    return _status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process has had since it started."""
    return _status_mb(pid, "VmHWM")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """The direct child processes (gunicorn's workers, for its master)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []

"""Small file helpers shared by every stage that writes artifacts: atomic writes and checksums (Keras
networks as files: :mod:`captioner.train.keras_io`); and the server-wide turn for memory-heavy work."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: the lock is this process's only
    fcntl = None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    A kill mid-write then leaves the old file (or none), never a truncated one that loads as valid.
    The temporary name keeps the final suffixes, because Keras insists on ``.weights.h5``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name.split('.')[0]}-", suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(0o644)  # mkstemp makes it private; artifacts are ordinary readable files
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(folder: Path, exclude: set[str]) -> dict[str, dict]:
    """``{name: {"bytes", "sha256"}}`` for the files in ``folder`` (not hidden ones: those are unfinished writes)."""
    return {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".") and path.name not in exclude
    }


def damaged_files(folder: Path, recorded: dict[str, dict]) -> list[str]:
    """What differs from a :func:`file_digests` record: one phrase per missing or changed file."""
    problems = []
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != expected["bytes"] or sha256(path) != expected["sha256"]:
            problems.append(f"{name} is damaged (its SHA-256 differs from the one recorded)")
    return problems


# --- Work that takes a lot of memory, one at a time across a server's processes -------------------------------
# Decoding a 40-megapixel PNG takes a worker to 511 MB for a moment; two workers doing so at once would take a
# 512 MB dyno past twice its quota, where Heroku kills it (R15). A lock on a file is held by one process at a
# time, and the kernel lets it go when its holder dies, so a killed worker never leaves the others waiting.
HEAVY_WORK_LOCK = "captioner-heavy-work.lock"
_in_process = threading.Lock()


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold the server-wide turn for memory-heavy work (a large decode, reading text): one process, and one thread
    in it, at a time. The lock file is in ``CAPTIONER_LOCK_DIR`` (default: the system's temporary folder)."""
    folder = Path(os.environ.get("CAPTIONER_LOCK_DIR") or tempfile.gettempdir())
    with _in_process:
        try:
            file = open(folder / HEAVY_WORK_LOCK, "a+b")
        except OSError:  # nowhere to put the lock: this process's own turn is all there is
            yield
            return
        with file:
            if fcntl is not None:
                fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
            yield

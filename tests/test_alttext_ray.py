"""Batch alt text on Ray (``caption --engine ray``): a local Ray with two CPUs, the shipped model, real photos.

The same rows as the single-machine CLI, a corrupt photo as an error row, an actor killed mid-run and a
driver killed mid-run, neither losing nor doubling a row.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from captioner.data import REPO_ROOT
from harness.servers import free_port

# slow: it starts a local Ray (make test-fast leaves it out)
pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "captioner", "caption", "--beam", "1"]
# Loopback only, for the cluster and every client of it: Ray would otherwise turn 127.0.0.1 into this
# machine's network address (tests here may reach nothing else). No usage statistics sent anywhere.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token"}  # `ray start` turns on token authentication; its clients send the token
# A fresh machine has no ~/.ray/auth_token: the cluster and its clients share a token made for this run.
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
os.environ.update(LOOPBACK)  # this process lists the cluster's actors (set before Ray is imported)
pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt (make test installs it)")



@pytest.fixture(scope="module")
def archive(flickr8k_root, photos, tmp_path_factory) -> Path:
    """300 Flickr8k photos, the 16 full-size ones in a subfolder, and one corrupt photo."""
    root = tmp_path_factory.mktemp("archive")
    for photo in sorted((flickr8k_root / "Images").glob("*.jpg"))[:300]:
        shutil.copy(photo, root / photo.name)
    (root / "full-size").mkdir()
    for photo in photos:
        shutil.copy(photo, root / "full-size" / photo.name)
    (root / "full-size" / "corrupt.jpg").write_bytes(photos[0].read_bytes()[:400])
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray head with two CPUs, as `ray start` runs one; its address for --address."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--port", str(port),
                    "--include-dashboard", "false", "--temp-dir", str(temp), "--disable-usage-stats"],
                   check=True, capture_output=True, timeout=120)
    yield f"127.0.0.1:{port}"
    subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)


def rows_of(folder: Path) -> list[dict]:
    """The rows of every Parquet file the run wrote that reads back whole (as a rerun counts them)."""
    import pyarrow.parquet

    rows = []
    for path in sorted(folder.glob("alttext_*.parquet")):
        try:
            rows += pyarrow.parquet.read_table(path).to_pylist()
        except Exception:  # noqa: BLE001  (cut off by the kill)
            continue
    return rows


def by_name(rows: list[dict], root: Path) -> dict[str, dict]:
    return {str(Path(row["image"]).relative_to(root)): row for row in rows}


def test_ray_gives_the_cli_s_captions_and_an_error_row(archive, tmp_path, cluster):
    local = tmp_path / "local.jsonl"
    subprocess.run([*CLI, "-r", str(archive), "--out", str(local)], cwd=REPO_ROOT, capture_output=True, timeout=600)
    expected = by_name([json.loads(line) for line in local.read_text().splitlines()], archive)
    dest = tmp_path / "ray"
    result = subprocess.run([*CLI, "-r", str(archive), "--out", str(dest), "--engine", "ray", "--address", cluster,
                             "--workers", "2", "--batch-size", "32"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]  # one photo was unreadable
    assert "316 captioned, 1 unreadable" in result.stdout
    rows = rows_of(dest)
    got = by_name(rows, archive)
    assert len(rows) == len(got) == len(expected) == 317
    assert {name: row["caption"] for name, row in got.items()} == {n: r["caption"] for n, r in expected.items()}
    assert "corrupt" in got["full-size/corrupt.jpg"]["error"]
    assert {row["model"] for row in rows} == {row["model"] for row in expected.values()}


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def caption_actors() -> list[int]:
    """The processes of this machine's captioning actors (Ray names each ``ray::MapWorker(...CaptionActor)``)."""
    pids = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            title = (process / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if title.startswith(b"ray::") and b"CaptionActor" in title:
            pids.append(int(process.name))
    return pids


def test_a_killed_actor_and_a_killed_run_lose_and_double_no_row(archive, tmp_path, cluster):
    dest = tmp_path / "ray"
    command = [*CLI, "-r", str(archive), "--out", str(dest), "--engine", "ray", "--address", cluster,
               "--workers", "2", "--batch-size", "16"]
    run = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        # An actor's process dies mid-run: Ray restarts it and retries its batch.
        pid = wait_for(lambda: caption_actors(), 120, "a captioning actor")[0]
        os.kill(pid, signal.SIGKILL)
        assert run.poll() is None, "the run finished before an actor could be killed"
        # Then the whole run is killed once some rows have landed (in a file that reads back whole).
        wait_for(lambda: rows_of(dest), 120, "the first rows")
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
        # Ray ends a dead driver's actors and tasks; a rerun starts once they are gone.
        wait_for(lambda: not caption_actors(), 120, "the killed run's actors to stop")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    if len(rows_of(dest)) == 317:
        # Ray wrote the rest in the moment between the first rows and the kill: as if the kill had come
        # before them, the newest half of the files goes, so the rerun has rows to add in every case.
        files = sorted(dest.glob("alttext_*.parquet"), key=lambda path: (path.stat().st_mtime_ns, path.name))
        assert len(files) >= 2, "one file per batch of 16 photos"
        for path in files[len(files) // 2:]:
            path.unlink()
    kept = len(rows_of(dest))
    assert 0 < kept < 317
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"{kept} already there" in again.stdout
    images = [row["image"] for row in rows_of(dest)]
    assert len(images) == len(set(images)) == 317


def test_a_folder_that_holds_other_files_is_refused(archive, tmp_path, cluster):
    dest = tmp_path / "ray"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    result = subprocess.run([*CLI, "-r", str(archive), "--out", str(dest), "--engine", "ray", "--address", cluster],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "which this command did not write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (dest / "notes.txt").read_text() == "mine"

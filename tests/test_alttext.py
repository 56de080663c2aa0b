"""Batch alt text: ``python -m captioner caption --recursive FOLDER --out FILE`` over a photo library."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from captioner.alttext import model_version
from captioner.data import REPO_ROOT
from harness.uploads import jpeg, png


def run_caption(*args, model: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "captioner", "caption", "--model", str(model), *map(str, args)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture
def library(tmp_path) -> Path:
    """A photo library: nested folders, mixed formats and case, one corrupt photo, files that are not photos."""
    root = tmp_path / "library"
    (root / "2024" / "summer").mkdir(parents=True)
    (root / "2025").mkdir()
    (root / "a.jpg").write_bytes(jpeg())
    (root / "2024" / "b.PNG").write_bytes(png())
    (root / "2024" / "summer" / "c.jpeg").write_bytes(jpeg((90, 120)))
    (root / "2025" / "broken.jpg").write_bytes(jpeg()[:500])
    (root / "2025" / "notes.txt").write_text("not a photo, and not named like one")
    return root


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with open(path, newline="") as file:
            return list(csv.DictReader(file))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_folder_tree_is_captioned_into_rows_that_name_the_model(colour_model, library, tmp_path, suffix):
    _, model_dir = colour_model
    out = tmp_path / f"captions{suffix}"
    result = run_caption("--recursive", library, "--out", out, "--beam", "2", model=model_dir)
    assert result.returncode == 1  # one photo was unreadable
    assert "3 captioned, 1 unreadable" in result.stdout
    rows = {Path(row["image"]).name: row for row in read_rows(out)}
    assert set(rows) == {"a.jpg", "b.PNG", "c.jpeg", "broken.jpg"}
    version = model_version(json.loads((model_dir / "model_card.json").read_text()))
    assert all(row["model"] == version for row in rows.values()) and len(version.split()[-1]) == 12
    assert "corrupt" in rows["broken.jpg"]["error"] and not rows["broken.jpg"]["caption"]
    assert all(len(rows[name]["caption"].split()) >= 2 and not rows[name]["error"] for name in ("a.jpg", "c.jpeg"))


def test_a_second_run_adds_only_what_is_missing_and_drops_a_torn_row(colour_model, library, tmp_path):
    _, model_dir = colour_model
    out = tmp_path / "captions.csv"
    run_caption("-r", library, "--out", out, model=model_dir)
    lines = out.read_text().splitlines(keepends=True)
    # As if killed while writing: two rows kept, the third cut in the middle.
    out.write_text("".join(lines[:3]) + lines[3][:10])
    (library / "2025" / "new.png").write_bytes(png())
    result = run_caption("-r", library, "--out", out, model=model_dir)
    assert "2 already there" in result.stdout
    images = [row["image"] for row in read_rows(out)]
    assert sorted(images) == sorted(set(images)) and len(images) == 5
    assert out.read_text().count("\n") == 6  # header + 5 rows, no torn line left


def test_a_run_killed_mid_library_resumes_where_it_stopped(flickr8k_root, tmp_path):
    """The shipped model over 192 Flickr8k photos, killed with SIGKILL after its first batches landed."""
    library = tmp_path / "photos"
    library.mkdir()
    for photo in sorted((flickr8k_root / "Images").glob("*.jpg"))[:192]:
        shutil.copy(photo, library / photo.name)
    out = tmp_path / "captions.jsonl"
    command = [sys.executable, "-m", "captioner", "caption", "-r", str(library), "--out", str(out),
               "--beam", "1", "--batch-size", "16"]
    first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 32:
            break
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    kept = out.read_text().count("\n")
    assert 32 <= kept < 192
    second = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{192 - kept} captioned, 0 unreadable" in second.stdout and f"{kept} already there" in second.stdout
    images = [row["image"] for row in read_rows(out)]
    assert len(images) == len(set(images)) == 192


@pytest.mark.parametrize(
    "args, message",
    [(["{library}"], "is a folder: pass --recursive"),
     (["-r", "{library}", "--out", "{tmp}/captions.txt"], "use a .csv or .jsonl file name"),
     (["{tmp}/nowhere"], "does not exist")],
    ids=["folder-without-recursive", "unknown-output-format", "missing-path"],
)
def test_bad_options_are_one_line_errors(colour_model, library, tmp_path, args, message):
    _, model_dir = colour_model
    args = [a.format(library=library, tmp=tmp_path) for a in args]
    result = run_caption(*args, model=model_dir)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_a_file_from_elsewhere_is_refused_not_overwritten(colour_model, library, tmp_path):
    _, model_dir = colour_model
    out = tmp_path / "notes.csv"
    out.write_text("name,phone\nalice,123\n")
    result = run_caption("-r", library, "--out", out, model=model_dir)
    assert result.returncode == 1 and "not a CSV file this version wrote" in result.stderr
    assert out.read_text() == "name,phone\nalice,123\n"


@pytest.mark.parametrize("name", ["=HYPERLINK(\"x\").png", "+1.png", "-2.png", "@SUM(1).png", "'=x.png"])
def test_a_file_name_never_becomes_a_spreadsheet_formula_and_still_resumes(colour_model, tmp_path, name):
    """OWASP's CSV injection: a cell that starts with = + - @ is quoted; the resume still knows the photo."""
    from captioner.alttext import FORMULA_STARTS, csv_unsafe

    _, model_dir = colour_model
    (tmp_path / name).write_bytes(png())
    out = tmp_path / "captions.csv"
    command = [sys.executable, "-m", "captioner", "caption", "--model", str(model_dir), "--out", str(out), "--", name]
    # Run in the photo's folder, so that the row names the file as it was given, the name first.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    (row,) = read_rows(out)
    assert not row["image"].startswith(FORMULA_STARTS) and csv_unsafe(row["image"]) == name
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "1 already there" in again.stdout and len(read_rows(out)) == 1

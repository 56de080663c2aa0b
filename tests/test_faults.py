"""Faults: a missing or damaged model stops the server with one line; kills never leave bad files; training
interrupted with SIGKILL resumes from its last finished epoch."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from captioner.data import REPO_ROOT
from captioner.train.training import finished_epochs
from harness.servers import free_port, procfile_command

# slow: it kills servers and training runs (make test-fast leaves it out)
pytestmark = pytest.mark.slow


@pytest.fixture
def model_copy(colour_model, tmp_path) -> Path:
    _, model_dir = colour_model
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


def flip_a_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "weights-missing": lambda folder: (folder / "caption_model.weights.h5").unlink(),
    "weights-one-byte-flipped": lambda folder: flip_a_byte(folder / "caption_model.weights.h5", 5000),
    "weights-truncated": lambda folder: (folder / "caption_model.weights.h5").write_bytes(
        (folder / "caption_model.weights.h5").read_bytes()[:4096]),
    "vocabulary-not-json": lambda folder: (folder / "vocab.json").write_text("{ half a"),
    "card-not-json": lambda folder: (folder / "model_card.json").write_text("{"),
    "card-missing": lambda folder: (folder / "model_card.json").unlink(),
}


def run_server(command: list[str], model: Path, port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "CAPTIONER_MODEL": str(model), "PORT": str(port)}
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", DAMAGE)
def test_python_app_py_refuses_a_damaged_model_with_one_line(model_copy, damage):
    DAMAGE[damage](model_copy)
    result = run_server([sys.executable, "app.py"], model_copy, free_port())
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(model_copy) in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("damage", ["weights-one-byte-flipped", "card-missing"])
def test_gunicorn_halts_on_a_damaged_model_instead_of_respawning_workers(model_copy, damage):
    DAMAGE[damage](model_copy)
    port = free_port()
    result = run_server(procfile_command(port, workers=2), model_copy, port)
    assert result.returncode == 4  # gunicorn's "App failed to load"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors and str(model_copy) in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "Booting worker" not in result.stderr  # the master refused


def test_gunicorn_halts_when_a_worker_cannot_load_the_model(model_copy):
    """Damage the card's checksums cannot see (an older folder without them): the worker stops the server."""
    card = json.loads((model_copy / "model_card.json").read_text())
    del card["checksums"]
    (model_copy / "model_card.json").write_text(json.dumps(card))
    (model_copy / "vocab.json").write_text("{ half a")
    port = free_port()
    result = run_server(procfile_command(port, workers=1), model_copy, port)
    assert result.returncode == 4 and "App failed to load" in result.stderr
    assert any(line.startswith("error: cannot load vocabulary") for line in result.stderr.splitlines())
    assert "Traceback" not in result.stderr


def test_files_from_two_models_mixed_are_refused(model_copy):
    """An older folder without checksums still cannot pair a vocabulary with another model's weights."""
    card = json.loads((model_copy / "model_card.json").read_text())
    del card["checksums"]
    (model_copy / "model_card.json").write_text(json.dumps(card))
    vocab = json.loads((model_copy / "vocab.json").read_text())
    vocab["words"] = vocab["words"][:-1]
    (model_copy / "vocab.json").write_text(json.dumps(vocab))
    result = run_server([sys.executable, "app.py"], model_copy, free_port())
    assert result.returncode == 1 and "does not fit together: vocabulary entries" in result.stderr


WRITER = """
import sys, time
from pathlib import Path
from captioner.io import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    with open(tmp, "wb") as file:
        file.write(b"new" * 100_000)
        file.flush()
        print("half written", flush=True)
        time.sleep(60)
        file.write(b"the rest")
"""


def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    from captioner.io import file_digests

    target = tmp_path / "caption_model.weights.h5"
    target.write_bytes(b"old, complete")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              text=True)
    assert writer.stdout.readline().strip() == "half written"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert target.read_bytes() == b"old, complete"
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert leftovers and all(p.name.startswith(".") for p in leftovers)  # a hidden temporary file
    assert list(file_digests(tmp_path, exclude=set())) == [target.name]  # which nothing reads as an artifact


def test_training_killed_mid_run_resumes_from_its_last_finished_epoch(colour_dataset, tmp_path):
    out = tmp_path / "model"
    command = [sys.executable, "-m", "captioner", "train", "--data", str(colour_dataset), "--encoder", "thumbnail",
               "--cache", str(tmp_path / "cache"), "--min-count", "1", "--epochs", "15", "--patience", "15",
               "--batch-size", "4", "--embed-dim", "16", "--units", "16", "--out", str(out)]
    first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    metadata = out / "checkpoints" / "member_1" / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if finished_epochs(metadata.parent) >= 3:
            break
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "training finished before it could be interrupted"
    assert not (out / "model_card.json").exists()  # killed before saving: no half a model folder
    finished = finished_epochs(metadata.parent)

    second = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    epochs = [int(n) for n in re.findall(r"^Epoch (\d+)/15", second.stdout, re.MULTILINE)]
    assert epochs[0] == finished + 1 and epochs[-1] == 15
    card = json.loads((out / "model_card.json").read_text())
    member = card["training"]["members"][0]
    assert member["epochs_run"] == 15 and member["resumed_after_epoch"] == finished
    assert len(member["train_loss"]) == 15 - finished
    assert not (out / "checkpoints").exists()

"""Security checks: static scan, pinned dependencies, debug off, no tracebacks, escaped captions."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from captioner.data import REPO_ROOT
from tests.test_app import photo_bytes

SCANNED = ["captioner", "app.py", "gunicorn.conf.py", "benchmarks", "experiments", "tools"]


def test_bandit_finds_no_medium_or_high_issue():
    """Low-severity notes (subprocess in the benchmark scripts, asserts) are expected; anything above is not.

    A finding that is a false positive gets ``# nosec BXXX`` on its line with the reason beside it.
    """
    bandit = Path(sys.executable).with_name("bandit")
    if not bandit.is_file():
        pytest.skip("pip install -r requirements-dev.txt (bandit)")
    result = subprocess.run([str(bandit), "-q", "-r", "--severity-level", "medium", "-f", "json", *SCANNED],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    report = json.loads(result.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it really scanned the code


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-train.txt", "requirements-ray.txt",
                                          "requirements-dev.txt"])
def test_every_dependency_is_pinned(requirements):
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / requirements).read_text().splitlines()]
    unpinned = [line for line in lines if line and not line.startswith("-r ")
                and not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.+\-]*", line)]
    assert unpinned == []


def test_debug_mode_stays_off_even_with_flask_debug_set(colour_model, monkeypatch):
    from app import create_app

    monkeypatch.setenv("FLASK_DEBUG", "1")
    _, model_dir = colour_model
    assert create_app({"MODEL_DIR": str(model_dir)}).debug is False


def test_a_bug_is_a_json_500_without_a_traceback(app, monkeypatch):
    captioner = app.extensions["captioner"]

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(captioner, "caption_image", broken)
    response = app.test_client().post("/api/caption", data={"image": (io.BytesIO(photo_bytes("red", "PNG")), "p.png")},
                                      content_type="multipart/form-data")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert response.get_json()["code"] == "internal_error" and "try again" in response.get_json()["error"]
    assert "Traceback" not in text and "secret detail" not in text and "RuntimeError" not in text


def test_a_caption_is_escaped_in_the_page(colour_model, tmp_path):
    """Even a model whose vocabulary held markup could not inject it into the page."""
    from app import create_app

    _, model_dir = colour_model
    folder = Path(shutil.copytree(model_dir, tmp_path / "model"))
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["words"] = ["<img src=x onerror=alert(1)>" if w == "red" else w for w in vocab["words"]]
    (folder / "vocab.json").write_text(json.dumps(vocab))
    card = json.loads((folder / "model_card.json").read_text())
    del card["checksums"]  # the edit above is exactly what the checksums would refuse
    (folder / "model_card.json").write_text(json.dumps(card))
    client = create_app({"MODEL_DIR": str(folder)}).test_client()
    page = client.post("/", data={"image": (io.BytesIO(photo_bytes("red", "PNG")), "p.png")}, content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_the_page_script_writes_text_never_markup():
    script = (REPO_ROOT / "static" / "app.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
    assert "textContent" in script

"""The model the repository ships in model/: it loads, it captions real photos, and it still scores what
its model card says."""

import json
import shutil
import subprocess
import sys

import pytest

from captioner.data import REPO_ROOT
from captioner.decode import Candidate
from captioner.model_folder import load_card

MODEL_DIR = REPO_ROOT / "model"
# Greedy decoding is deterministic; the tolerance covers float differences across machines and libraries.
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def card():
    return load_card(MODEL_DIR)


@pytest.fixture(scope="module")
def shipped():
    from captioner.serving import Captioner

    return Captioner(MODEL_DIR)


def test_the_card_records_what_the_model_needs_and_how_it_scores(card):
    assert card["encoder"]["name"].startswith("efficientnet_lite")
    assert card["encoder"]["weights_licence"] == "Apache-2.0"
    test = card["metrics"]["test"]
    assert test["images"] == 1000 and test["split"] == "test"
    for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "cider", "distinct_captions"):
        assert 0 < test[key] < 2
    assert test["distinct_captions"] >= 0.6, "a captioner that says the same thing to every photo is broken"


def test_the_model_folder_is_small(card):
    """A Heroku slug holds 500 MB: the serving install (about 254 MB) and this folder (56 MB of captioner and
    guidance, 16 MB of text reader) with room to spare."""
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    assert size < 80 * 1024 * 1024
    listed = {card["files"]["architecture"], card["files"]["vocabulary"], *card["files"]["weights"]}
    assert listed <= {p.name for p in MODEL_DIR.iterdir()}


def test_real_photos_get_sensible_captions(shipped, photos):
    by_name = {p.name: p for p in photos}
    dogs = [by_name[n] for n in ("1117972841_2b9261f95f.jpg", "123889082_d3751e0350.jpg")]
    results = list(shipped.caption_sources(dogs, beam_size=3))
    for result in results:
        # 123889082 shows two dogs ("Two dogs are playing together on green grass"): either word is right.
        assert result.error is None and {"dog", "dogs"} & set(result.caption.split()), result.caption
        # Best first by beam search's own score: log-probability per word to the card's length penalty.
        penalty = shipped.decoding["length_penalty"]
        scores = [Candidate(text.split(), lp).score(penalty) for text, lp in result.candidates]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3


@pytest.mark.skipif(shutil.which("java") is None, reason="coco-caption needs Java (default-jre-headless)")
def test_regression_greedy_on_100_test_photos_scores_what_the_card_says(card, shipped, flickr8k_root, tmp_path):
    from captioner.evaluate import evaluate_model

    recorded = card["metrics"]["test_greedy_first100"]
    result = evaluate_model(MODEL_DIR, flickr8k_root, "test", beam_size=1, limit=100, cache_dir=tmp_path,
                            captioner=shipped)
    assert result["images"] == recorded["images"] == 100
    for key in ("bleu_1", "bleu_4", "meteor", "cider"):
        assert result[key] == pytest.approx(recorded[key], abs=TOLERANCE), (key, json.dumps(result)[:300])


def test_the_readme_shows_captions_the_shipped_model_prints(shipped, photos):
    """The README's first example is the CLI's output for three photos: it must stay true."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("$ .venv/bin/python -m captioner caption ", 1)[1].split("```", 1)[0]
    shown = dict(line.split("\t") for line in block.strip().splitlines()[1:])
    assert len(shown) == 3
    results = shipped.caption_sources([str(REPO_ROOT / path) for path in shown])
    assert {path: result.caption for path, result in zip(shown, results)} == shown


def test_the_readme_python_example_runs_as_written_and_prints_what_it_says(photos):
    """The README's Python block, run from the repository root in a fresh interpreter, prints the line the README
    shows after it."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    promised = readme.split("```python\n", 1)[1].split("```", 1)[1].split("prints `", 1)[1].split("`", 1)[0]
    result = subprocess.run([sys.executable, "-c", block], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == promised

"""Scoring with the coco-caption toolkit, and the evaluate command end to end."""

import json
import shutil

import pytest

from captioner.evaluate import evaluate_model
from captioner.metrics import score_captions
from tests.test_cli import captioner

# java: scoring runs coco-caption's Java tokenizer and METEOR (make test-fast leaves it out)
pytestmark = [pytest.mark.java,
              pytest.mark.skipif(shutil.which("java") is None, reason="coco-caption needs Java (default-jre-headless)")]

REFERENCES = {
    "a.jpg": ["A dog runs on the grass .", "A brown dog is running on grass", "The dog runs outside ."],
    "b.jpg": ["A man rides a bike down the road .", "A cyclist on a road", "A man riding a bicycle ."],
}


def test_a_caption_equal_to_a_reference_scores_full_bleu():
    scores = score_captions({"a.jpg": "a dog runs on the grass", "b.jpg": "a man rides a bike down the road"},
                            REFERENCES)
    assert scores["bleu_1"] == pytest.approx(1.0) and scores["bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert scores["meteor"] > 0.9 and scores["cider"] > 2.0


def test_unrelated_captions_score_near_zero_and_better_ones_score_higher():
    bad = score_captions({"a.jpg": "two women sing", "b.jpg": "a cat sleeps"}, REFERENCES, meteor=False)
    fair = score_captions({"a.jpg": "a dog on grass", "b.jpg": "a man on a bike"}, REFERENCES, meteor=False)
    assert bad["bleu_4"] < 1e-3 and bad["cider"] < 0.2
    assert fair["bleu_1"] > bad["bleu_1"] and fair["cider"] > bad["cider"]


def test_evaluate_model_on_the_colour_model(colour_model, tmp_path):
    root, model_dir = colour_model
    result = evaluate_model(model_dir, root, "test", beam_size=3, cache_dir=tmp_path)
    assert result["images"] == 4 and result["beam"] == 3 and result["encoder"] == "thumbnail"
    assert result["distinct_captions"] == 1.0  # one caption per colour
    assert result["bleu_1"] > 0.6 and 0 <= result["meteor"] <= 1
    assert all(s["caption"] for s in result["samples"])


def test_evaluate_command_writes_json_with_the_documented_keys(colour_model, tmp_path):
    root, model_dir = colour_model
    out = tmp_path / "scores.json"
    import shutil as sh

    model_copy = tmp_path / "model"
    sh.copytree(model_dir, model_copy)
    result = captioner("evaluate", "--data", root, "--model", model_copy, "--split", "test", "--beam", 2,
                       "--cache", tmp_path / "cache", "--out", out, "--record", "test_beam2")
    assert result.returncode == 0, result.stderr
    assert "BLEU-4" in result.stdout
    scores = json.loads(out.read_text())
    for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "cider", "images", "beam", "encoder", "samples"):
        assert key in scores
    assert scores["beam"] == 2 and scores["images"] == 4
    card = json.loads((model_copy / "model_card.json").read_text())
    assert card["metrics"]["test_beam2"]["bleu_4"] == scores["bleu_4"]
    assert "samples" not in card["metrics"]["test_beam2"]

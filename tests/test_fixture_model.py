"""The committed fixture model (tests/fixtures/colour_model/) is what its maker writes today, and serves as the
colour data set says."""

import json
import subprocess
import sys

import pytest

from captioner.data import REPO_ROOT
from harness.colours import COLOURS, FIXTURE_MODEL


def test_the_fixture_model_names_each_colour_on_its_test_photos(colour_model):
    from captioner.data import load_captions
    from captioner.serving import Captioner

    root, model_dir = colour_model
    data = load_captions(root)
    captioner = Captioner(model_dir)
    for name in data.split("test"):
        caption = captioner.caption_image(data.image_path(name).read_bytes(), beam_size=1).caption
        assert name.split("_")[0] in caption.split(), (name, caption)
    assert set(name.split("_")[0] for name in data.split("test")) == set(COLOURS)


def test_the_fixture_model_is_small_and_complete():
    card = json.loads((FIXTURE_MODEL / "model_card.json").read_text())
    assert set(card["checksums"]) == {p.name for p in FIXTURE_MODEL.iterdir()} - {"model_card.json"}
    assert sum(p.stat().st_size for p in FIXTURE_MODEL.iterdir()) < 500_000
    assert card["encoder"]["name"] == "thumbnail"


@pytest.mark.slow  # it trains the model again
def test_its_maker_writes_the_same_model_today(tmp_path, colour_model):
    """Run the maker afresh: the same files, vocabulary, architecture and card fields, and the same captions
    (CPU training is not bit-reproducible, so weights are compared through what they say)."""
    pytest.importorskip("tensorflow", reason="the maker trains: requirements-train.txt")
    from captioner.serving import Captioner

    fresh = tmp_path / "fresh"
    made = subprocess.run([sys.executable, "-m", "tools.make_fixture_model", "--out", str(fresh)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-2000:]
    assert {p.name for p in fresh.iterdir()} == {p.name for p in FIXTURE_MODEL.iterdir()}
    for name in ("vocab.json", "caption_model.json"):
        assert (fresh / name).read_text() == (FIXTURE_MODEL / name).read_text(), name
    fresh_card, committed_card = (json.loads((f / "model_card.json").read_text()) for f in (fresh, FIXTURE_MODEL))
    assert set(fresh_card) == set(committed_card)
    assert {k: v for k, v in fresh_card["training"].items() if k not in ("seconds", "members")} == \
        {k: v for k, v in committed_card["training"].items() if k not in ("seconds", "members")}
    root, _ = colour_model
    photos = sorted((root / "Images").glob("*.jpg"))
    said = [[r.caption for r in Captioner(folder).caption_sources(photos, beam_size=2)] for folder in (fresh, FIXTURE_MODEL)]
    assert said[0] == said[1] and len(said[0]) == len(photos) == 24

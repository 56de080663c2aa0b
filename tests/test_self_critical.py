"""Self-critical fine-tuning: its reward is coco-caption's CIDEr-D, its step follows the advantage, a decoder keeps
its best dev epoch, and the command writes a model folder the app serves."""

import json
import subprocess
import sys

import numpy as np
import pytest

from captioner.data import REPO_ROOT
from captioner.train.self_critical import CiderD

REFERENCES = {
    "dog": ["a black dog runs through the grass", "a dog is running on a lawn", "the dog runs in a green field",
            "a black dog running outside", "dog running across grass"],
    "beach": ["two children play on the beach", "kids playing in the sand by the sea", "two kids on a sandy beach",
              "children run along the shore", "two young children playing at the beach"],
    "bike": ["a man rides a bike down a hill", "a cyclist on a mountain trail", "a man on a bicycle rides downhill",
             "a person riding a bike on a dirt path", "a mountain biker going down a hill"],
}
CANDIDATES = {"dog": "a black dog runs on the grass", "beach": "two children are playing on the beach",
              "bike": "a man riding a bike"}


def test_cider_d_is_the_coco_caption_toolkits():
    """Every candidate scored as pycocoevalcap's CiderScorer scores it, with document frequencies over the same
    references; a wrong n-gram weight, clipping or length penalty is off by far more than float rounding."""
    from pycocoevalcap.cider.cider_scorer import CiderScorer

    coco = CiderScorer(n=4, sigma=6.0)
    for name in REFERENCES:
        coco += (CANDIDATES[name], REFERENCES[name])
    _, expected = coco.compute_score()
    ours = CiderD([[r.split() for r in refs] for refs in REFERENCES.values()])
    scores = [ours.score(CANDIDATES[name].split(), [r.split() for r in REFERENCES[name]]) for name in REFERENCES]
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    assert len(set(np.round(scores, 6))) == 3 and min(scores) > 0


def test_a_policy_step_makes_the_better_caption_more_likely_than_the_worse():
    """REINFORCE's sign: with advantage +1 for one sampled caption and -1 for another of the same photo, one step
    widens the gap between their log-probabilities."""
    import keras

    from captioner.text import END_ID, PAD_ID
    from captioner.train.model import ModelConfig, build_model
    from captioner.train.self_critical import PolicyGradient, caption_log_probabilities

    keras.utils.set_random_seed(3)
    network = build_model(vocab_size=20, feature_size=6, config=ModelConfig(embed_dim=8, units=8, dropout=0.0))
    features = np.repeat(np.random.default_rng(0).normal(size=(1, 6)), 2, axis=0)
    sampled = np.array([[5, 6, 7, END_ID, PAD_ID], [8, 9, END_ID, PAD_ID, PAD_ID]])
    before = caption_log_probabilities(network, features, sampled)
    PolicyGradient(network, learning_rate=1e-2).step(features, sampled, np.array([1.0, -1.0]))
    after = caption_log_probabilities(network, features, sampled)
    assert (after[0] - after[1]) - (before[0] - before[1]) > 1e-3


def test_interpolated_weights_run_from_the_start_to_the_tuned_ones_in_float32():
    from captioner.train.self_critical import interpolate

    rng = np.random.default_rng(0)
    start, tuned = [rng.normal(size=(3, 4)).astype(np.float32)], [rng.normal(size=(3, 4)).astype(np.float32)]
    np.testing.assert_array_equal(interpolate(start, tuned, 0.0)[0], start[0])
    np.testing.assert_array_equal(interpolate(start, tuned, 1.0)[0], tuned[0])
    quarter = interpolate(start, tuned, 0.25)[0]
    assert quarter.dtype == np.float32
    np.testing.assert_allclose(quarter, 0.75 * start[0] + 0.25 * tuned[0], rtol=1e-6)


@pytest.fixture
def colour_decoder(trained_colour_model):
    """The colour model's decoder loaded afresh, its starting weights, and its (features, references) by split."""
    from captioner.data import load_captions, split_images
    from captioner.text import tokenize
    from captioner.train.model import load_model

    root, folder, run = trained_colour_model
    model, data = load_model(folder), load_captions(root)
    tokenized = tokenize(data.captions)

    def photos(split):
        names = split_images(data, split)
        return np.stack([run.features[n] for n in names]), [tokenized[n] for n in names]

    return model, [w.copy() for w in model.network.get_weights()], photos("train"), photos("dev")


@pytest.mark.parametrize("mix", [0.0, 1.0])
def test_the_mix_decides_how_much_of_the_kept_epoch_is_saved(colour_decoder, monkeypatch, mix):
    """Every epoch scores better on dev than the one before (a stand-in dev score), so the last is kept; a mix of 0
    saves the starting weights bit for bit, a mix of 1 the fine-tuned ones, which differ."""
    from captioner.train import self_critical

    calls = []
    monkeypatch.setattr(self_critical, "dev_cider", lambda *args: calls.append(1) or {"dev_cider_d": len(calls)})
    model, start, train, dev = colour_decoder
    record = self_critical.fine_tune_decoders(
        model.networks, model.vocab, train, dev,
        self_critical.SelfCriticalConfig(epochs=1, learning_rate=0.5, images_per_batch=4, mix=mix), verbose=0)
    assert record["members"][0]["kept_epoch"] == 1 and record["mix"] == mix
    same = [np.array_equal(now, then) for now, then in zip(model.network.get_weights(), start)]
    assert all(same) if mix == 0 else not any(same)


def test_a_decoder_keeps_its_weights_when_no_epoch_beats_them(colour_decoder):
    """A learning rate that wrecks the decoder: the dev score falls after every epoch, so epoch 0 is kept and the
    weights are the ones it started with, bit for bit."""
    from captioner.train.self_critical import SelfCriticalConfig, fine_tune_decoders

    model, start, train, dev = colour_decoder
    record = fine_tune_decoders(model.networks, model.vocab, train, dev,
                                SelfCriticalConfig(epochs=2, learning_rate=5.0, images_per_batch=4, mix=1.0), verbose=0)
    member = record["members"][0]
    assert member["kept_epoch"] == 0 and all(e["dev_cider_d"] < member["dev_cider_d"] for e in member["epochs"])
    for now, then in zip(model.network.get_weights(), start):
        np.testing.assert_array_equal(now, then)


def test_the_command_writes_a_fine_tuned_model_the_app_serves(trained_colour_model, tmp_path):
    root, folder, _ = trained_colour_model
    out = tmp_path / "tuned"
    command = [sys.executable, "-m", "captioner", "self-critical", "--model", str(folder), "--out", str(out),
               "--epochs", "1", "--mix", "0.5", "--data", str(root), "--cache", str(tmp_path / "cache")]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "decoder 1: dev CIDEr-D" in result.stdout and f"guide --model {out}" in result.stdout
    card = json.loads((out / "model_card.json").read_text())
    stage = card["training"]["self_critical"]
    assert [m["kept_epoch"] in (0, 1) for m in stage["members"]] == [True] and stage["mix"] == 0.5
    assert "guidance" not in card and "metrics" not in card and not (out / "objects.npz").exists()

    from app import create_app

    client = create_app({"MODEL_DIR": str(out), "TESTING": True}).test_client()
    photo = next((root / "Images").glob("red_*.jpg"))
    response = client.post("/api/caption", data={"image": (photo.open("rb"), "red.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["caption"]


@pytest.mark.parametrize("options, message", [
    (["--out", "{model}"], "--out must be a new folder"),
    (["--out", "{tmp}/x", "--learning-rate", "0"], "--learning-rate must be positive"),
    (["--out", "{tmp}/x", "--mix", "1.5"], "--mix must be in [0, 1]"),
])
def test_bad_options_are_one_line_errors(trained_colour_model, tmp_path, options, message):
    root, folder, _ = trained_colour_model
    options = [o.format(model=folder, tmp=tmp_path) for o in options]
    result = subprocess.run([sys.executable, "-m", "captioner", "self-critical", "--model", str(folder), "--data",
                             str(root), *options], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # it trains two decoders and fine-tunes them
def test_training_with_a_self_critical_stage_records_it_in_the_card(tmp_path_factory):
    from tests.conftest import train_colour_model

    _, folder, run = train_colour_model(tmp_path_factory, epochs=20, seeds=[1, 2], self_critical_epochs=1)
    stage = json.loads((folder / "model_card.json").read_text())["training"]["self_critical"]
    assert len(stage["members"]) == 2 and stage["max_epochs"] == 1
    assert all(m["dev_cider_d"] >= m["dev_cider_d_before"] for m in stage["members"])
    assert stage == run.model.card["training"]["self_critical"]

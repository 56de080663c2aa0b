"""Ensembles: several decoders trained with different seeds on the same features, saved in one model folder,
whose next-word probabilities are averaged; and the decoding settings a model card records."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from captioner.data import REPO_ROOT
from captioner.decode import beam_search, keras_reference
from captioner.train.model import ModelConfig, load_model
from captioner.train.training import TrainConfig, finished_epochs
from captioner.text import START_ID

# slow: it trains ensembles (make test-fast leaves it out)
pytestmark = pytest.mark.slow

SEEDS = [3, 4]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """Two colour-model decoders, seeds 3 and 4, with beam 2 and length penalty 0.5 recorded as defaults."""
    from tests.conftest import train_colour_model

    return train_colour_model(tmp_path_factory, epochs=40, seeds=SEEDS, beam=2, length_penalty=0.5)


def test_one_weights_file_per_seed_and_a_card_that_lists_them(ensemble):
    _, out, run = ensemble
    card = json.loads((out / "model_card.json").read_text())
    assert card["files"]["weights"] == ["caption_model.weights.h5", "caption_model_2.weights.h5"]
    assert [m["seed"] for m in card["training"]["members"]] == SEEDS
    assert all(m["epochs_run"] == 40 and len(m["dev_loss"]) == 40 for m in card["training"]["members"])
    assert card["training"]["seconds"] == pytest.approx(sum(m["seconds"] for m in card["training"]["members"]), abs=0.2)
    assert card["name"] == "ensemble of 2 merge captioners"
    assert card["decoding"] == {"beam": 2, "length_penalty": 0.5}
    assert set(card["checksums"]) == {p.name for p in out.iterdir()} - {"model_card.json"}
    assert len(run.histories) == 2


def test_the_seeds_give_different_decoders(ensemble):
    _, out, _ = ensemble
    first, second = load_model(out).networks
    assert not np.allclose(first.get_layer("next_word").get_weights()[0], second.get_layer("next_word").get_weights()[0])


def test_the_lean_ensemble_gives_the_keras_ensemble_s_probabilities_and_captions(ensemble):
    from captioner.serving import Captioner

    _, out, run = ensemble
    lean = Captioner(out)
    keras_model = load_model(out)
    assert lean.decoder.members == 2
    reference = keras_reference(keras_model.networks)
    features = np.stack(list(run.features.values()))
    lean_state, keras_state = lean.decoder.start(features), reference.start(features)
    for word in (START_ID, 4, 5, 6):
        words = np.full(len(features), word)
        lean_log_probs, lean_state = lean.decoder.step(lean_state, words)
        keras_log_probs, keras_state = reference.step(keras_state, words)
        np.testing.assert_allclose(np.exp(lean_log_probs), np.exp(keras_log_probs), atol=1e-5)
    max_length = keras_model.vocab.max_length
    assert [r[0].ids for r in beam_search(lean.decoder, features, max_length, 2, 0.5)] == \
        [r[0].ids for r in beam_search(reference, features, max_length, 2, 0.5)]


def test_the_ensemble_still_says_the_colour(ensemble):
    from captioner.data import load_captions
    from captioner.serving import Captioner

    root, out, _ = ensemble
    data = load_captions(root)
    lean = Captioner(out)
    for result in lean.caption_sources([str(data.image_path(n)) for n in data.split("test")]):
        colour = os.path.basename(result.source).split("_")[0]
        assert colour in result.caption.split(), (result.source, result.caption)


def test_the_card_s_decoding_settings_are_the_defaults_everywhere(ensemble, tmp_path):
    from app import create_app
    from captioner.evaluate import evaluate_model
    from captioner.serving import Captioner
    from tests.test_app import photo_bytes, upload

    root, out, _ = ensemble
    lean = Captioner(out)
    assert lean.search_settings(None, None) == (2, 0.5)
    assert lean.search_settings(5, 0.0) == (5, 0.0)
    result = evaluate_model(out, root, "test", cache_dir=tmp_path, meteor=False, captioner=lean)
    assert (result["beam"], result["length_penalty"]) == (2, 0.5)
    client = create_app({"MODEL_DIR": str(out), "TESTING": True}).test_client()
    body = upload(client, photo_bytes("red")).get_json()
    assert body["model"]["beam"] == 2 and body["model"]["length_penalty"] == 0.5 and body["model"]["decoders"] == 2
    assert len(body["candidates"]) == 2
    override = create_app({"MODEL_DIR": str(out), "TESTING": True, "DEFAULT_BEAM": 1}).test_client()
    assert upload(override, photo_bytes("red")).get_json()["model"]["beam"] == 1


def test_retraining_a_folder_with_fewer_members_removes_the_old_ones(ensemble, tmp_path):
    from captioner.serving import Captioner
    from captioner.train.pipeline import train_captioner
    from captioner.train.recipes import DEFAULT, override

    root, out, _ = ensemble
    folder = tmp_path / "model"
    shutil.copytree(out, folder)
    (folder / "encoder.json").write_text("{}")  # what older folders carried
    recipe = override(DEFAULT, encoder="thumbnail", min_count=1, embed_dim=8, units=8, epochs=1, batch_size=8)
    train_captioner(recipe, folder, root, cache_dir=tmp_path / "cache", verbose=0)
    assert not (folder / "caption_model_2.weights.h5").exists() and not (folder / "encoder.json").exists()
    assert Captioner(folder).decoder.members == 1


def test_a_run_killed_in_its_second_member_keeps_the_first(colour_dataset, tmp_path):
    out = tmp_path / "model"
    command = [sys.executable, "-m", "captioner", "train", "--data", str(colour_dataset), "--encoder", "thumbnail",
               "--cache", str(tmp_path / "cache"), "--min-count", "1", "--epochs", "6", "--patience", "6",
               "--batch-size", "4", "--embed-dim", "16", "--units", "16", "--seed", "1", "2", "--out", str(out)]
    first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    second_member = out / "checkpoints" / "member_2" / "backup"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.poll() is None and finished_epochs(second_member) < 2:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "training finished before it could be interrupted"
    kept = (out / "checkpoints" / "member_1" / "final.weights.h5").read_bytes()

    second = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    before_member_2 = second.stdout.split("member 2 of 2")[0]
    assert "member 1 of 2" in before_member_2 and not re.search(r"^Epoch \d+/6", before_member_2, re.MULTILINE)
    card = json.loads((out / "model_card.json").read_text())
    assert [m["epochs_run"] for m in card["training"]["members"]] == [6, 6]
    assert card["training"]["members"][1]["resumed_after_epoch"] >= 2
    # The first member in the folder is the one the killed run finished, weight for weight.
    (tmp_path / "kept.weights.h5").write_bytes(kept)
    saved, reference = load_model(out).networks[0], load_model(out).networks[0]
    reference.load_weights(tmp_path / "kept.weights.h5")
    for ours, kept_weights in zip(saved.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, kept_weights)


def test_a_finished_member_is_reused_only_with_the_same_settings(tmp_path):
    from captioner.train.model import build_model
    from captioner.train.training import CaptionExamples
    from captioner.train.pipeline import train_member

    rng = np.random.default_rng(0)
    examples = CaptionExamples(rng.random((6, 12), dtype=np.float32), np.repeat(np.arange(6), 2),
                               [[START_ID, *rng.integers(4, 20, 5), 3] for _ in range(12)])
    folder = tmp_path / "member_1"

    def member(seed, epochs=2):
        network = build_model(20, 12, ModelConfig(embed_dim=4, units=4), seed=seed)
        return train_member(network, examples, examples, TrainConfig(epochs=epochs, batch_size=4, seed=seed),
                            folder, verbose=0)

    first_network, first_history, first_seconds = member(1)
    again_network, again_history, again_seconds = member(1)  # what a resumed run does: no training
    assert again_seconds == first_seconds and again_history == first_history  # the record, not a new run
    for ours, theirs in zip(again_network.get_weights(), first_network.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    _, other_history, _ = member(2, epochs=3)  # other settings in the same folder: trained anew
    assert len(other_history["loss"]) == 3

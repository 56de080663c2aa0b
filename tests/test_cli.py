"""``python -m captioner`` as a user runs it: real processes, real files, one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from captioner.data import REPO_ROOT


def captioner(*args, cwd=REPO_ROOT, env=None):
    return subprocess.run(
        [sys.executable, "-m", "captioner", *map(str, args)], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=600,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_help_lists_the_subcommands():
    result = captioner("--help")
    assert result.returncode == 0
    for command in ("features", "train", "evaluate", "caption"):
        assert command in result.stdout


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory, flickr8k_root):
    """A short training run on 200 real training images, through the CLI."""
    out = tmp_path_factory.mktemp("cli_model")
    cache = tmp_path_factory.mktemp("cli_cache")
    result = captioner("train", "--data", flickr8k_root, "--limit", 200, "--epochs", 3, "--encoder", "thumbnail",
                       "--out", out, "--cache", cache)
    assert result.returncode == 0, result.stderr
    assert "vocabulary:" in result.stdout and f"saved {out}" in result.stdout
    return out


@pytest.mark.slow
def test_training_through_the_cli_writes_the_model_folder(cli_model):
    card = json.loads((cli_model / "model_card.json").read_text())
    assert card["data"]["train_images"] == 200 and card["data"]["dev_images"] == 50
    assert card["encoder"]["name"] == "thumbnail"
    assert not (cli_model / "checkpoints").exists(), "resume state is removed once the model is saved"


def test_caption_prints_image_tab_caption(colour_model, photos):
    _, model_dir = colour_model  # the committed toy model: it says "a ... square" of any photo
    result = captioner("caption", "--model", model_dir, "--beam", "1", photos[0], photos[1])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(photos[0]), str(photos[1])]
    assert all(len(line.split("\t")[1].split()) >= 2 for line in lines), lines


def test_a_corrupt_jpeg_is_reported_and_the_other_photos_still_get_captions(colour_model, photos, tmp_path):
    _, model_dir = colour_model
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(photos[0].read_bytes()[:2000])
    result = captioner("caption", "--model", model_dir, photos[0], broken, photos[1])
    assert_one_line_error(result, str(broken), "corrupt")
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [str(photos[0]), str(photos[1])]


def test_missing_data_folder(tmp_path):
    result = captioner("train", "--data", tmp_path / "absent", "--out", tmp_path / "m")
    assert_one_line_error(result, "data folder not found", "absent")


def test_empty_caption_file(colour_dataset, tmp_path):
    (colour_dataset / "Flickr8k.token.txt").write_text("")
    result = captioner("features", "--data", colour_dataset, "--cache", tmp_path / "cache", "--encoder", "thumbnail")
    assert_one_line_error(result, "no captions in")


def test_features_command_reports_what_it_cached(colour_dataset, tmp_path):
    result = captioner("features", "--data", colour_dataset, "--cache", tmp_path, "--encoder", "thumbnail")
    assert result.returncode == 0, result.stderr
    assert "24 image(s) have thumbnail features" in result.stdout


def test_caption_without_a_model_says_how_to_get_one(tmp_path, photos):
    result = captioner("caption", "--model", tmp_path, photos[0])
    assert_one_line_error(result, "no trained model in", "--model")


def test_bad_option_values_are_refused_by_name(tmp_path):
    result = captioner("train", "--limit", "0", "--out", tmp_path)
    assert result.returncode == 2 and "--limit" in result.stderr and "at least 1" in result.stderr
    result = captioner("train", "--dropout", "1.5", "--out", tmp_path, "--data", tmp_path)
    assert_one_line_error(result, "--dropout")
    result = captioner("train", "--self-critical-epochs", "-1", "--out", tmp_path, "--data", tmp_path)
    assert_one_line_error(result, "--self-critical-epochs")


def test_an_ensemble_needs_different_seeds(tmp_path):
    result = captioner("train", "--seed", "3", "3", "--encoder", "thumbnail", "--out", tmp_path / "m")
    assert result.returncode != 0 and "different seeds" in result.stderr and "Traceback" not in result.stderr


def test_a_distillation_weight_outside_0_to_1_is_a_one_line_error(tmp_path):
    result = captioner("train", "--seed", "1", "2", "--distil", "1.5", "--encoder", "thumbnail", "--out", tmp_path / "m")
    assert result.returncode != 0 and "--distil must be in (0, 1]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_without_out_writes_a_new_run_folder_and_never_model(colour_dataset, tmp_path):
    shipped_card = (REPO_ROOT / "model" / "model_card.json").read_bytes()
    result = captioner("train", "--recipe", "quick", "--data", colour_dataset, "--cache", tmp_path / "cache",
                       "--epochs", 1, "--min-count", 1, "--units", 16, "--embed-dim", 16, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    runs = list((tmp_path / "runs").glob("quick-*"))
    assert len(runs) == 1 and (runs[0] / "model_card.json").is_file()
    card = json.loads((runs[0] / "model_card.json").read_text())
    assert card["encoder"]["name"] == "thumbnail" and card["training"]["epochs"] == 1  # the recipe, overridden
    assert card["architecture"]["units"] == 16 and card["min_word_count"] == 1
    assert "recipe quick with overrides: thumbnail" in result.stdout
    assert (REPO_ROOT / "model" / "model_card.json").read_bytes() == shipped_card


def test_pseudo_captions_need_a_model_that_held_concepts_out(tmp_path):
    result = captioner("pseudo-captions", "--model", REPO_ROOT / "model", "--out", tmp_path / "pseudo.txt")
    assert_one_line_error(result, "held out no concepts", "--hold-out")
    assert not (tmp_path / "pseudo.txt").exists()


def test_pseudo_captions_are_not_written_into_the_model_folder_they_would_damage(tmp_path):
    model = tmp_path / "heldout"
    model.mkdir()
    result = captioner("pseudo-captions", "--model", model, "--out", model / "pseudo.txt")
    assert_one_line_error(result, "outside the model folder", "heldout_pseudo_captions.txt")
    assert not (model / "pseudo.txt").exists()


def test_training_on_a_missing_pseudo_captions_file_is_a_one_line_error(tmp_path):
    result = captioner("train", "--recipe", "quick", "--pseudo-captions", tmp_path / "none.txt", "--out", tmp_path / "m")
    assert_one_line_error(result, "no pseudo-captions file", "none.txt")

"""Shared fixtures: the real Flickr8k in ../shared (skipped where absent), the colour data set made here
(harness/colours.py) and its committed model, which the ``app`` and ``client`` fixtures serve."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from captioner.data import REPO_ROOT, default_data_root
from harness.colours import FIXTURE_MODEL, train_colour_model_into, write_colour_dataset

PHOTOS = Path(os.environ.get("CAPTIONER_PHOTOS", REPO_ROOT.parent / "shared" / "photos"))

# Fixtures that train or run Keras: their tests skip where only requirements.txt is installed (make test-serving).
KERAS_FIXTURES = {"trained_colour_model", "two_paths", "cli_model", "distilled", "ensemble", "small_network"}
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def pytest_collection_modifyitems(config, items):
    """Marks that follow from what a test uses: ``browser`` for the browser fixture, ``java`` for a skip that
    names Java; without TensorFlow, tests that train or run Keras skip, by their fixtures. Slow tests carry their
    own ``slow`` mark (on the test, or ``pytestmark`` on the module)."""
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        if any("Java" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.java)
        if not HAS_TENSORFLOW and KERAS_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.skip(reason="trains or runs Keras: needs TensorFlow (requirements-train.txt)"))


@pytest.fixture(scope="session")
def flickr8k_root() -> Path:
    root = default_data_root()
    if not (root / "Images").is_dir():
        pytest.skip(f"Flickr8k not found at {root}: set CAPTIONER_DATA or put it in ../shared/flickr8k")
    return root


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    found = sorted(PHOTOS.glob("*.jpg"))
    if not found:
        pytest.skip(f"no full-size photos at {PHOTOS}: set CAPTIONER_PHOTOS or put them in ../shared/photos")
    return found


@pytest.fixture
def colour_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "colours")


def train_colour_model(tmp_path_factory, epochs: int = 60, **fields):
    """``(data root, model folder, run)``: the colour model trained afresh (for tests of training itself);
    ``fields`` change the recipe's (``seeds``, ``beam``, ``distil``, ...)."""
    root = write_colour_dataset(tmp_path_factory.mktemp("data") / "colours")
    out = tmp_path_factory.mktemp("model")
    run = train_colour_model_into(root, out, tmp_path_factory.mktemp("cache"), epochs, **fields)
    return root, out, run


@pytest.fixture(scope="session")
def trained_colour_model(tmp_path_factory):
    """A merge captioner trained on the colour data set through the pipeline, saved to a folder."""
    return train_colour_model(tmp_path_factory)


@pytest.fixture(scope="session")
def colour_model(tmp_path_factory) -> tuple[Path, Path]:
    """``(data root, model folder)``: the committed colour model (no training, no TensorFlow), copied so that
    no test can change the committed files, and a fresh colour data set it was trained on."""
    root = write_colour_dataset(tmp_path_factory.mktemp("data") / "colours")
    return root, Path(shutil.copytree(FIXTURE_MODEL, tmp_path_factory.mktemp("fixture") / "colour_model"))


@pytest.fixture(scope="session")
def app(colour_model):
    """The Flask app over the colour model, as the tutorial's ``app`` fixture."""
    from app import create_app

    _, model_dir = colour_model
    return create_app({"MODEL_DIR": str(model_dir), "TESTING": True, "MAX_CONTENT_LENGTH": 2 * 1024 * 1024})


@pytest.fixture
def client(app):
    return app.test_client()

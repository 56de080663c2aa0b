"""Shared fixtures: the real Flickr8k in ../shared (skipped where absent) and small data sets made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captioner.data import REPO_ROOT, default_data_root

PHOTOS = Path(os.environ.get("CAPTIONER_PHOTOS", REPO_ROOT.parent / "shared" / "photos"))

# Modules whose every test takes minutes (make test-fast leaves them out); see pytest_collection_modifyitems.
SLOW_MODULES = {"test_notebook", "test_container", "test_alttext_ray", "test_load", "test_distillation",
                "test_efficientnet_lite", "test_fuzz", "test_faults", "test_ensemble"}
# Fixtures that take minutes: 200 test photos through both the Keras and the lean path.
SLOW_FIXTURES = {"two_paths"}


def pytest_collection_modifyitems(config, items):
    """Marks for make test-fast: browser tests by their fixture, Java ones by their module or skip reason,
    slow ones by their module."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        if module in {"test_evaluate", "test_notebook"} or any(
                "Java" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.java)
        if module in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


# Colours a model can tell apart from the thumbnail encoder's colour grid alone.
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (240, 230, 40)}


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


def write_colour_dataset(root: Path, per_colour: int = 6) -> Path:
    """A learnable toy data set: one solid colour per photo, captions that name the colour.

    Layout as Flickr8k distributes it: Images/, Flickr8k.token.txt and the three split files.
    """
    images = root / "Images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines, names = [], []
    for colour, rgb in COLOURS.items():
        for i in range(per_colour):
            name = f"{colour}_{i}.jpg"
            pixels = np.clip(np.array(rgb) + rng.integers(-15, 15, (64, 48, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(images / name, quality=90)
            names.append(name)
            captions = [f"A {colour} square .", f"a {colour} square", f"A plain {colour} square!",
                        f"The {colour} square", f"a {colour} square ."]
            lines += [f"{name}#{k}\t{text}" for k, text in enumerate(captions)]
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    train = [n for n in names if int(n.split("_")[1][0]) < per_colour - 2]
    dev = [n for n in names if int(n.split("_")[1][0]) == per_colour - 2]
    test = [n for n in names if int(n.split("_")[1][0]) == per_colour - 1]
    for split, members in (("train", train), ("dev", dev), ("test", test)):
        (root / f"Flickr_8k.{split}Images.txt").write_text("\n".join(members) + "\n")
    return root


@pytest.fixture
def colour_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "colours")


def train_colour_model(tmp_path_factory, epochs: int = 60, **options):
    """``(data root, model folder, run)``: a small merge captioner trained on a fresh colour data set through
    the pipeline; ``options`` go to ``train_captioner`` (``seeds``, ``decoding``, ``student``)."""
    from captioner.model import ModelConfig
    from captioner.pipeline import train_captioner
    from captioner.training import TrainConfig

    root = write_colour_dataset(tmp_path_factory.mktemp("data") / "colours")
    out = tmp_path_factory.mktemp("model")
    run = train_captioner(
        root, out, "thumbnail", min_count=1,
        model_config=ModelConfig(embed_dim=32, units=32, dropout=0.1),
        train_config=TrainConfig(epochs=epochs, batch_size=8, learning_rate=1e-2, patience=epochs),
        cache_dir=tmp_path_factory.mktemp("cache"), verbose=0, **options,
    )
    return root, out, run


@pytest.fixture(scope="session")
def trained_colour_model(tmp_path_factory):
    """A merge captioner trained on the colour data set through the pipeline, saved to a folder."""
    return train_colour_model(tmp_path_factory)


@pytest.fixture(scope="session")
def app(trained_colour_model):
    """The Flask app over the colour model, as the tutorial's ``app`` fixture."""
    from app import create_app

    _, model_dir, _ = trained_colour_model
    return create_app({"MODEL_DIR": str(model_dir), "TESTING": True, "MAX_CONTENT_LENGTH": 2 * 1024 * 1024})


@pytest.fixture
def client(app):
    return app.test_client()

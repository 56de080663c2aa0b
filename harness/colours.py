"""The colour data set: a learnable toy Flickr8k made here, and the small model trained on it.

One solid colour per photo, captions that name the colour: a model tells them apart from the thumbnail
encoder's colour grid alone. ``tests/fixtures/colour_model/`` is that model, committed, so the app's and
serving's tests run without training (or TensorFlow); ``python -m tools.make_fixture_model`` writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from captioner.data import REPO_ROOT

# Colours a model can tell apart from the thumbnail encoder's colour grid alone.
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (240, 230, 40)}

# The committed model of the colour data set, and how it was trained (tools/make_fixture_model.py).
FIXTURE_MODEL = REPO_ROOT / "tests" / "fixtures" / "colour_model"
COLOUR_MODEL = dict(encoder="thumbnail", min_count=1, embed_dim=32, units=32, dropout=0.1, epochs=60, batch_size=8,
                    learning_rate=1e-2, patience=60)


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


def train_colour_model_into(root: Path, out: Path, cache: Path, epochs: int = 60, **fields):
    """Train the colour model on the data set at ``root`` into ``out`` through the pipeline; ``fields`` change the
    recipe's (``seeds``, ``beam``, ``distil``, ``self_critical_epochs``, ...). Returns the pipeline's
    ``TrainingRun``."""
    from captioner.train.pipeline import train_captioner
    from captioner.train.recipes import DEFAULT, override

    recipe = override(DEFAULT, **{**COLOUR_MODEL, "epochs": epochs, **fields})
    return train_captioner(recipe, out, root, cache_dir=cache, verbose=0)

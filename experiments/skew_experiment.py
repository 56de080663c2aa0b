"""Experiment: how close a full-size photo's features come to those of its 224-pixel Flickr8k copy.

    .venv/bin/python -m experiments.skew_experiment [--photos ../shared/photos] [--model model]

The decoder was trained on the copies in ``../shared/flickr8k/Images`` (squashed to 224x224, JPEG), which
the encoder sees upsampled to 260. Users upload full-size photos. For each way of preparing a full-size
photo this prints the mean relative distance of its features from its copy's, their mean cosine distance,
how many photos get the caption their copy gets (the shipped model, its default decoding, guided as served),
and the captions' BLEU-1 / BLEU-4 against the photos' five references (the copies' own on the first line).
The last row is what :func:`captioner.images.load_rgb` does now.

The check that matters is BLEU-4 on full-size *test* photos; the ones at hand are training photos, whose
captions the decoder has seen, so their BLEU is high and only the difference between rows means anything,
and with 16 photos one changed caption moves it by about 0.01-0.03.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from captioner.data import default_data_root, load_captions
from captioner.images import as_training_copy, load_rgb, open_image, to_rgb
from captioner.metrics import score_captions
from captioner.serving import Captioner

FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "hamming": Image.HAMMING, "lanczos": Image.LANCZOS}


def straight(path: Path, side: int) -> np.ndarray:
    """The full-size photo resized straight to the encoder's input (serving before the fix)."""
    return np.asarray(to_rgb(open_image(path)).resize((side, side), Image.BILINEAR))


def copied(path: Path, side: int, resample, quality: int | None) -> np.ndarray:
    """Squashed to 224 with ``resample``, optionally saved as JPEG, then resized to the encoder's input."""
    image = as_training_copy(to_rgb(open_image(path)), resample, quality)
    return np.asarray(image.resize((side, side), Image.BILINEAR))


def preparations(side: int) -> dict:
    ways = {"straight to the encoder's size": lambda p: straight(p, side)}
    for name, resample in FILTERS.items():
        for quality in (None, 75, 90, 95):
            label = f"{name} to 224" + (f", JPEG q{quality}" if quality else ", no JPEG")
            ways[label] = lambda p, r=resample, q=quality: copied(p, side, r, q)
    ways["load_rgb (what serving does)"] = lambda p: load_rgb(p, (side, side))
    return ways


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=default_data_root().parent / "photos")
    parser.add_argument("--model", type=Path, default=Path("model"))
    args = parser.parse_args()
    photos = sorted(args.photos.glob("*.jpg"))
    copies = default_data_root() / "Images"
    captioner = Captioner(args.model)
    side = captioner.encoder.spec.input_size

    known = load_captions().captions
    references = {p.name: known[p.name] for p in photos}

    def captions(features):
        return [r.caption for r in captioner.describe_features(features, [""] * len(features))]

    def bleu(said: list[str]) -> str:
        scores = score_captions({p.name: c for p, c in zip(photos, said)}, references, meteor=False)
        return f"{scores['bleu_1']:.3f} / {scores['bleu_4']:.3f}"

    reference = captioner.encoder.encode(np.stack([load_rgb(copies / p.name, (side, side)) for p in photos]))
    reference_captions = captions(reference)
    print(f"{len(photos)} full-size photos; distances from their 224-pixel copies' features")
    print(f"the copies' own captions: BLEU-1 / BLEU-4 {bleu(reference_captions)}")
    print(f"{'preparation':36s} {'relative':>9s} {'cosine':>8s}  same caption  BLEU-1 / BLEU-4")
    for label, prepare in preparations(side).items():
        features = captioner.encoder.encode(np.stack([prepare(p) for p in photos]))
        relative = np.linalg.norm(features - reference, axis=1) / np.linalg.norm(reference, axis=1)
        cosine = 1 - (features * reference).sum(1) / np.linalg.norm(features, axis=1) / np.linalg.norm(reference, axis=1)
        said = captions(features)
        same = sum(a == b for a, b in zip(said, reference_captions))
        print(f"{label:36s} {relative.mean():9.4f} {cosine.mean():8.4f}  {same:>5d}/{len(photos)}     {bleu(said)}")


if __name__ == "__main__":
    main()

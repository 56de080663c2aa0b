"""Fit the text gate (``text_gate.npz``): which images the text reader looks at, so that photos pay nothing.

    .venv/bin/python -m tools.make_text_gate [--model model] [--per-kind 150] [--share 0.05]

The probe (:mod:`captioner.reading.gate`) is a logistic regression over the encoder's features: images of text
made by ``harness/text_images.py`` (seed 100, backgrounds from Flickr8k training photos) against Flickr8k's 6,000
training photos. Its threshold is the probability that ``--share`` of Flickr8k dev photos reach, so the reader's
cost on photos is bounded by that share; the figures on dev and on images made with another seed are printed and
recorded in the card.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from captioner.data import REPO_ROOT, load_captions
from captioner.features import extract_features
from captioner.guidance.recognition import PROBE_L2, ObjectRecogniser, fit_logistic
from captioner.model_folder import OBJECTS_FILE, TEXT_GATE_FILE, load_card, write_card
from captioner.reading.gate import TextGate
from captioner.serving import Captioner
from harness.text_images import KINDS, encoder_pixels, text_images

# The ImageNet text classes' summed probability from which an image is read: 1.7% of Flickr8k dev photos reach it,
# and the street sign of ood-dev's parking photo, which the probe misses.
IMAGENET_THRESHOLD = 0.2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--per-kind", type=int, default=150, help="made images of each kind to fit on")
    parser.add_argument("--share", type=float, default=0.05, help="share of Flickr8k dev photos the probe sends")
    args = parser.parse_args(argv)
    captioner = Captioner(args.model, load_guidance=False)
    data = load_captions()
    train, dev = data.split("train"), data.split("dev")
    encoded = extract_features(captioner.encoder, {name: data.image_path(name) for name in train + dev},
                               progress=False)
    photos = np.stack([encoded[name] for name in train if name in encoded])
    made = made_features(captioner, 100, args.per_kind, [data.image_path(name) for name in train[:args.per_kind]])
    kernel, bias = fit_logistic(np.concatenate([made[0], photos]),
                                np.r_[np.ones(len(made[0])), np.zeros(len(photos))], l2=PROBE_L2)
    probe = TextGate(kernel, bias, 0.0, IMAGENET_THRESHOLD)
    dev_features = np.stack([encoded[name] for name in dev if name in encoded])
    threshold = float(np.quantile(probe.probe(dev_features), 1 - args.share))
    gate = TextGate(kernel, bias, threshold, IMAGENET_THRESHOLD)
    gate.save(args.model / TEXT_GATE_FILE)

    recogniser = ObjectRecogniser.from_file(args.model / OBJECTS_FILE)
    sent = gate.should_read(dev_features, recogniser.class_probabilities(dev_features), np.ones(len(dev), bool))
    held, kinds = made_features(captioner, 1, 30, [data.image_path(name) for name in dev[:30]])
    caught = gate.should_read(held, recogniser.class_probabilities(held), np.ones(len(held), bool))
    recall = {kind: round(float(caught[kinds == kind].mean()), 3) for kind in KINDS}
    print(f"wrote {args.model / TEXT_GATE_FILE}: probe threshold {threshold:.4f}; Flickr8k dev photos sent to the "
          f"reader {sent.mean():.1%}; made images (seed 1) sent: {recall}")
    card = load_card(args.model)
    card.setdefault("text_reader", {})["gate"] = {
        "file": TEXT_GATE_FILE, "fitted_by": "tools/make_text_gate.py", "probe_threshold": round(threshold, 5),
        "imagenet_threshold": IMAGENET_THRESHOLD, "dev_photos_read": round(float(sent.mean()), 4),
        "made_images_read": recall}
    write_card(args.model, card)


def made_features(captioner: Captioner, seed: int, per_kind: int, photos: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's features of ``text_images(seed, per_kind, photos)``, and each image's kind."""
    made = text_images(seed, per_kind, photos)
    size = (captioner.encoder.spec.input_size,) * 2
    pixels = [encoder_pixels(image.image, size) for image in made]
    features = np.concatenate([captioner.encoder.encode(np.stack(pixels[i:i + 32])) for i in range(0, len(pixels), 32)])
    return features, np.array([image.kind for image in made])


if __name__ == "__main__":
    main()

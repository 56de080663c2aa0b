"""Experiment: how well the text reader reads, how long it takes, and how often it finds text that is not there.

    .venv/bin/python -m experiments.reading_experiment [--model model] [--seed 0] [--per-kind 30] [--photos 300]

- Images of text made with Pillow and Debian's fonts (``harness/text_images.py``: signs, slides, screenshots,
  words over photos): the character error rate (letters and digits, spaces left out, case kept) of all lines
  read, in reading order, against what each says; by kind, overall, and with case ignored.
- Time per image (the median and the slowest tenth), one thread, as serving would run it.
- Flickr8k dev photos (which hold little text): the share where some line is read at each confidence threshold,
  which is what a threshold for leaving out low-confidence lines is chosen by.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from captioner.data import REPO_ROOT, default_data_root, load_captions
from captioner.reading import TextReader
from captioner.reading.scoring import character_error_rate
from harness.text_images import text_images

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--photos", type=int, default=300, help="Flickr8k dev photos to look for text on")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    args = parser.parse_args(argv)
    reader = TextReader.from_folder(args.model)
    photos = sorted((default_data_root().parent / "photos").glob("*.jpg"))
    made = text_images(args.seed, args.per_kind, photos)
    rates: dict[str, list[float]] = {}
    caseless, times = [], []
    for image in made:
        start = time.perf_counter()
        lines = reader.read(image.image, args.min_confidence)
        times.append(time.perf_counter() - start)
        read, truth = " ".join(line.text for line in lines), " ".join(image.lines)
        rates.setdefault(image.kind, []).append(character_error_rate(read, truth))
        caseless.append(character_error_rate(read.lower(), truth.lower()))
    everything = [rate for kind in rates.values() for rate in kind]
    print(f"{len(made)} images of text (seed {args.seed}), lines kept from confidence {args.min_confidence}:")
    for kind, kind_rates in rates.items():
        print(f"  {kind:10s} CER {np.mean(kind_rates):.2%} (worst image {max(kind_rates):.0%})")
    print(f"  all        CER {np.mean(everything):.2%}; case ignored {np.mean(caseless):.2%}")
    print(f"time per image: median {np.median(times) * 1000:.0f} ms, 90th percentile "
          f"{np.quantile(times, 0.9) * 1000:.0f} ms")

    data = load_captions()
    names = data.split("dev")[: args.photos]
    best = []
    for name in names:
        lines = reader.read(Image.open(data.image_path(name)), 0.0)
        best.append(max((line.confidence for line in lines), default=0.0))
    best = np.array(best)
    print(f"Flickr8k dev, {len(names)} photos: some line read at confidence >= "
          + ", ".join(f"{t}: {np.mean(best >= t):.1%}" for t in THRESHOLDS))


if __name__ == "__main__":
    main()

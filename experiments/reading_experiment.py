"""Experiment: how well the text reader reads, and how often the served answer reports text that is not there.

    .venv/bin/python -m experiments.reading_experiment [--model model] [--seed 0] [--per-kind 30] [--split test]

- Images of text made with Pillow and Debian's fonts (``harness/text_images.py``: signs, slides, screenshots,
  words over photos, signs within photos): the character error rate (letters and digits, spaces left out, case
  kept) of all lines read, in reading order, against what each says, by kind and overall; the word error rate,
  which counts spaces, with the spaces the recogniser dropped put back and without; the reader's time per image
  (one thread, as serving runs it).
- Photos of text (``experiments/photos_of_text.json``: ood-dev's signs, shop front and book covers, the park-sign
  sample, transcribed by eye): the character error rate of the reader alone, and whether the gate sends each.
- Flickr8k photos of ``--split`` through the served path (``Captioner.caption_sources``): the share the gate sends
  to the reader and the share whose answer reports text, with what it reports. The target is on test; report it
  once, choose on dev.
Lines are kept from the model card's ``text_reader.min_confidence``, as served.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from captioner.data import REPO_ROOT, default_data_root, load_captions
from captioner.reading.scoring import character_error_rate, word_error_rate
from captioner.serving import Captioner
from harness.text_images import KINDS, text_images

PHOTOS_OF_TEXT = REPO_ROOT / "experiments" / "photos_of_text.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--split", default="dev", help="Flickr8k split to look for text on (the target is on test)")
    parser.add_argument("--photos", type=int, default=1000, help="photos of --split to use")
    args = parser.parse_args(argv)
    captioner = Captioner(args.model)
    made_images(captioner, args.seed, args.per_kind)
    photos_of_text(captioner)
    flickr8k(captioner, args.split, args.photos)


def made_images(captioner: Captioner, seed: int, per_kind: int) -> None:
    reader, floor = captioner.reader, captioner.text_min_confidence
    backgrounds = sorted((default_data_root().parent / "photos").glob("*.jpg"))
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    words, words_as_read, times = [], [], []
    for image in text_images(seed, per_kind, backgrounds):
        start = time.perf_counter()
        lines = reader.read(image.image, floor)
        times.append(time.perf_counter() - start)
        read, truth = " ".join(line.text for line in lines), " ".join(image.lines)
        rates[image.kind].append(character_error_rate(read, truth))
        words.append(word_error_rate(read, truth))
        as_read = " ".join(line.text for line in reader.read(image.image, floor, mend_spaces=False))
        words_as_read.append(word_error_rate(as_read, truth))
    everything = [rate for kind in rates.values() for rate in kind]
    print(f"{len(everything)} images of text (seed {seed}), lines kept from confidence {floor}:")
    for kind, kind_rates in rates.items():
        print(f"  {kind:10s} CER {np.mean(kind_rates):.2%} (worst image {max(kind_rates):.0%})")
    print(f"  all        CER {np.mean(everything):.2%}; word error rate {np.mean(words):.2%} with spaces put back, "
          f"{np.mean(words_as_read):.2%} as read")
    print(f"  reader's time per image: median {np.median(times) * 1000:.0f} ms, 90th percentile "
          f"{np.quantile(times, 0.9) * 1000:.0f} ms")


def photos_of_text(captioner: Captioner) -> None:
    transcribed = json.loads(PHOTOS_OF_TEXT.read_text())["photos"]
    rates = []
    print(f"photos of text ({PHOTOS_OF_TEXT.name}), the reader alone:")
    for name, truth in transcribed.items():
        path = REPO_ROOT / name if name.startswith("static/") else default_data_root().parent / name
        if not path.is_file():
            print(f"  {name}: not found, left out")
            continue
        lines = captioner.reader.read(Image.open(path), captioner.text_min_confidence)
        read = " ".join(line.text for line in lines)
        rates.append(character_error_rate(read, " ".join(truth)))
        (result,) = captioner.caption_sources([path])
        gate = "read when served" if result.text is not None else "not sent to the reader when served"
        print(f"  {Path(name).name}: CER {rates[-1]:.1%}, {gate}; read {read!r}")
    if rates:
        print(f"  mean CER {np.mean(rates):.2%} over {len(rates)} photos")


def flickr8k(captioner: Captioner, split: str, count: int) -> None:
    data = load_captions()
    names = data.split(split)[:count]
    results = list(captioner.caption_sources([data.image_path(name) for name in names]))
    looked = [r for r in results if r.text is not None]
    reported = [(Path(r.source).name, [line.text for line in r.text_lines]) for r in looked if r.text_lines]
    print(f"Flickr8k {split}, {len(names)} photos: sent to the reader {len(looked) / len(names):.1%}; text reported "
          f"on {len(reported) / len(names):.1%}:")
    for name, lines in reported:
        print(f"  {name}: {lines}")


if __name__ == "__main__":
    main()

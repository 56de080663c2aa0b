"""Benchmark: what guided captions and the training-copy input cost a request, against serving without them.

    .venv/bin/python -m benchmarks.bench_guidance [--model model] [--rounds 5]

For each full-size photo in ../shared/photos, in the same process and taking turns photo by photo (so the
machine's slow spells fall on all alike), it times:

* reading the photo: the old path (decoded and resized straight to the encoder's input) and ``load_rgb``,
  which first makes the photo a 224-pixel Flickr8k-like copy (:func:`captioner.images.as_training_copy`);
* captioning its features: plain beam search (what serving did before guidance) and guided
  (``Captioner.describe_features``: the recogniser, the person ban, a constrained search where the tag is
  missing, the confidence), each greedy and with the model card's beam.

Prints the median and 90th-percentile milliseconds of each, and the medians' difference now minus before. With
``--before-model`` (the model served before, say ``git show``-ed into a folder), "before" is that model's plain
search, so a change of decoders is timed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from captioner.data import default_data_root
from captioner.images import load_rgb, open_image, to_rgb
from captioner.serving import Captioner


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--photos", type=Path, default=default_data_root().parent / "photos")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before-model", type=Path, help="time this model's plain search as 'before' (default: "
                                                          "--model's own)")
    args = parser.parse_args()
    captioner = Captioner(args.model)
    captioner.warm_up()
    before = Captioner(args.before_model) if args.before_model else captioner
    before.warm_up()
    side = captioner.encoder.spec.input_size
    photos = sorted(args.photos.glob("*.jpg"))
    features = {p: captioner.encoder.encode(load_rgb(p, (side, side))[None]) for p in photos}
    beam = captioner.search_settings(None, None)[0]
    ways = {
        "read: straight to the encoder's size (before)": lambda p: np.asarray(
            to_rgb(open_image(p)).resize((side, side), Image.BILINEAR)),
        "read: load_rgb, training copy first (now)": lambda p: load_rgb(p, (side, side)),
    }
    for width in (1, beam):
        ways[f"caption, beam {width}: plain (before)"] = (
            lambda p, w=width: before.describe_features(features[p], ["photo"], w, guided=False))
        ways[f"caption, beam {width}: guided (now)"] = (
            lambda p, w=width: captioner.describe_features(features[p], ["photo"], w))
    times = {label: [] for label in ways}
    for _ in range(args.rounds):
        for photo in photos:
            for label, way in ways.items():
                times[label].append(timed(lambda: way(photo)))
    print(f"{len(photos)} photos x {args.rounds} rounds, milliseconds: median, 90th percentile")
    medians = {label: statistics.median(t) for label, t in times.items()}
    for label, median in medians.items():
        print(f"  {label:50s} {median:7.2f} {np.percentile(times[label], 90):7.2f}")
    labels = list(medians)
    for before, now in zip(labels[::2], labels[1::2]):
        print(f"  {now.split(':')[0] + ': now - before':50s} {medians[now] - medians[before]:+7.2f}")


if __name__ == "__main__":
    main()

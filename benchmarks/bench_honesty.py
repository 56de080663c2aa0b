"""Benchmark: what knowing when it does not know costs a Flickr8k photo, and a photo where the detectors run.

    .venv/bin/python -m benchmarks.bench_honesty [--model model] [--photos 100] [--rounds 3]

"Before" is the same model served without what this adds: a copy of its folder without ``novelty.npz`` and the
person detectors, its card's guidance without the evidence and wording settings, captioned without the pixel
rules. "Now" is the model as served: the novelty score, the pixel rules (is it a photo?), the person detectors where
the probe alone is not enough, the confidence scaled by rarity. Both caption the same encoded Flickr8k test photos
in the same process, taking turns photo by photo (so the machine's slow spells fall on both alike), greedy and
with the card's beam. It prints the median and 90th-percentile milliseconds, the medians' difference, on how many
photos a detector ran, and what the detectors cost where they run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from captioner.data import load_captions, split_images
from captioner.images import load_rgb
from captioner.model_folder import FACE_DETECTOR_FILE, NOVELTY_FILE, POSE_DETECTOR_FILE, load_card, write_card
from captioner.serving import Captioner

ADDED = ("typical_novelty", "person_detected_threshold", "rare_share", "sure_threshold", "sure_thing_threshold")


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def without_honesty(model: Path, folder: Path) -> Path:
    """A copy of the model folder as it was served before: no novelty index, no detectors, no new settings."""
    copy = Path(shutil.copytree(model, folder / "before"))
    for name in (NOVELTY_FILE, FACE_DETECTOR_FILE, POSE_DETECTOR_FILE):
        (copy / name).unlink(missing_ok=True)
    card = load_card(copy, verify=False)
    card["guidance"] = {k: v for k, v in card.get("guidance", {}).items() if k not in ADDED}
    write_card(copy, card)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--photos", type=int, default=100, help="the first N test-split photos")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    now = Captioner(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        before = Captioner(without_honesty(args.model, Path(scratch)))
    now.warm_up()
    before.warm_up()
    data = load_captions(args.data)
    side = now.encoder.spec.input_size
    names = split_images(data, "test", args.photos)
    pixels = {n: load_rgb(data.image_path(n), (side, side))[None] for n in names}
    features = {n: now.encoder.encode(pixels[n]) for n in names}
    beam = now.search_settings(None, None)[0]
    ways = {}
    for width in (1, beam):
        ways[f"beam {width}: before"] = lambda n, w=width: before.describe_features(features[n], [n], w)
        ways[f"beam {width}: now"] = lambda n, w=width: now.describe_features(features[n], [n], w, pixels=pixels[n])
    times = {label: [] for label in ways}
    for _ in range(args.rounds):
        for name in names:
            for label, way in ways.items():
                times[label].append(timed(lambda: way(name)))
    ran = sum(now.describe_features(features[n], [n], pixels=pixels[n])[0].guidance.person_detected is not None
              for n in names)
    detector = [timed(lambda n=n: now.guidance.detector.sees_person(pixels[n][0])) for n in names[:30]]
    medians = {label: statistics.median(t) for label, t in times.items()}
    print(f"{len(names)} test photos x {args.rounds} rounds, milliseconds: median, 90th percentile")
    for label, median in medians.items():
        print(f"  {label:20s} {median:7.2f} {np.percentile(times[label], 90):7.2f}")
    labels = list(medians)
    for old, new in zip(labels[::2], labels[1::2]):
        print(f"  {new.split(':')[0] + ': now - before':20s} {medians[new] - medians[old]:+7.2f}")
    print(f"the detectors ran on {ran} of {len(names)} photos; where they run (the face detector, then the pose "
          f"detector if it saw no face): median {statistics.median(detector):.2f} ms, slowest "
          f"{max(detector):.2f} ms over {len(detector)} photos")
    print(json.dumps({"median_ms": {k: round(v, 2) for k, v in medians.items()}, "detector_runs": ran}))


if __name__ == "__main__":
    main()

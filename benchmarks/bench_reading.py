"""Benchmark: what reading text costs a request, for photos (which the gate keeps from the reader) and for images
of text (which it sends there).

    .venv/bin/python -m benchmarks.bench_reading [--model model] [--photos 200] [--per-kind 10]

One process, one captioner: ``Captioner.caption_image`` on the same upload with the reader and without it
(``reader`` set to None), taking turns upload by upload so the machine's slow spells fall on both alike. Photos
are Flickr8k test photos (as uploaded: the JPEG files); images of text are ``harness/text_images.py``'s (seed 0,
as PNG uploads). Prints each side's median and 90th percentile milliseconds and the medians' difference, and the
share of each set the gate sent to the reader.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from captioner.data import default_data_root, load_captions
from captioner.serving import Captioner
from harness.text_images import KINDS, text_uploads


def timed(captioner: Captioner, data: bytes) -> tuple[float, bool]:
    started = time.perf_counter()
    result = captioner.caption_image(data)
    return (time.perf_counter() - started) * 1000, result.text is not None


def compare(captioner: Captioner, uploads: list[bytes], label: str) -> None:
    reader = captioner.reader
    with_reader, without, read = [], [], []
    for data in uploads:
        captioner.reader = None
        without.append(timed(captioner, data)[0])
        captioner.reader = reader
        took, looked = timed(captioner, data)
        with_reader.append(took)
        read.append(looked)
    p50, p90 = (lambda t: np.median(t)), (lambda t: np.quantile(t, 0.9))
    print(f"{label} ({len(uploads)}; {np.mean(read):.1%} sent to the reader): without the reader p50 "
          f"{p50(without):.1f} ms, p90 {p90(without):.1f}; with it p50 {p50(with_reader):.1f} ms, p90 "
          f"{p90(with_reader):.1f}; p50 difference {p50(with_reader) - p50(without):+.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--photos", type=int, default=200, help="Flickr8k test photos")
    parser.add_argument("--per-kind", type=int, default=10, help="images of text of each kind")
    args = parser.parse_args()
    captioner = Captioner(args.model)
    captioner.warm_up()
    data = load_captions()
    photos = [data.image_path(name).read_bytes() for name in data.split("test")[:args.photos]]
    made = text_uploads(args.per_kind * len(KINDS), sorted((default_data_root().parent / "photos").glob("*.jpg")))
    compare(captioner, photos, "Flickr8k test photos")
    compare(captioner, made, "images of text")


if __name__ == "__main__":
    main()

"""Benchmark the image encoders on this machine: batch throughput and single-photo latency.

    .venv/bin/python -m benchmarks.bench_encoders [--encoders efficientnet_lite0 efficientnet_lite2] [--images 256]

Throughput decodes Flickr8k's 224x224 JPEGs and encodes them in batches of 32, as feature extraction
does. Latency decodes one full-size photo from ../shared/photos and encodes it, as serving does; the
median of 20 runs after a warm-up. Both include JPEG decoding and resizing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from captioner.data import REPO_ROOT, default_data_root
from captioner.train.keras_encoders import build_encoder
from captioner.images import load_rgb


def throughput(encoder, paths: list[Path], batch_size: int = 32) -> float:
    size = (encoder.spec.input_size,) * 2
    encoder.encode(np.stack([load_rgb(p, size) for p in paths[:batch_size]]))  # warm-up
    started = time.perf_counter()
    for start in range(0, len(paths), batch_size):
        encoder.encode(np.stack([load_rgb(p, size) for p in paths[start:start + batch_size]]))
    return len(paths) / (time.perf_counter() - started)


def latency_ms(encoder, photos: list[Path], runs: int = 20) -> float:
    size = (encoder.spec.input_size,) * 2
    data = [p.read_bytes() for p in photos]
    encoder.encode(load_rgb(data[0], size)[None])
    times = []
    for i in range(runs):
        started = time.perf_counter()
        encoder.encode(load_rgb(data[i % len(data)], size)[None])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["efficientnet_lite0", "efficientnet_lite2"])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--photos", type=Path, default=REPO_ROOT.parent / "shared" / "photos")
    args = parser.parse_args()

    paths = sorted((args.data / "Images").glob("*.jpg"))[: args.images]
    photos = sorted(args.photos.glob("*.jpg"))
    print(f"{len(paths)} Flickr8k images for throughput, {len(photos)} full-size photos for latency")
    print(f"{'encoder':<20} {'input':>7} {'images/s (batch 32)':>20} {'one photo (ms)':>15}")
    for name in args.encoders:
        encoder = build_encoder(name)
        rate = throughput(encoder, paths)
        single = latency_ms(encoder, photos)
        side = encoder.spec.input_size
        print(f"{name:<20} {side:>3}x{side:<3} {rate:>20.1f} {single:>15.1f}", flush=True)


if __name__ == "__main__":
    main()

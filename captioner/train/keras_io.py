"""Keras networks as files: ``to_json`` architecture + HDF5 weights, written atomically."""

from __future__ import annotations

from pathlib import Path

from .. import CaptionerError
from ..io import atomic_path, write_atomically


def save_keras_network(network, architecture: Path, weights: Path) -> None:
    """A network as ``to_json`` + HDF5 weights, both written atomically, holding only what inference needs.

    A trained network's JSON carries its compile settings, and its weights file the optimizer's moments
    (twice the weights again). A copy rebuilt from the bare config has neither.
    """
    import keras

    inference_copy = keras.Model.from_config(network.get_config())
    inference_copy.set_weights(network.get_weights())
    with atomic_path(weights) as tmp:
        inference_copy.save_weights(str(tmp))
    write_atomically(architecture, inference_copy.to_json(indent=1).encode())


def load_keras_network(architecture: Path, weights: Path, what: str):
    """Plain Keras: ``model_from_json`` + ``load_weights``; a clear error names ``what`` failed to load."""
    import keras

    try:
        network = keras.models.model_from_json(architecture.read_text(encoding="utf-8"))
        network.load_weights(str(weights))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CaptionerError(f"cannot load {what} in {architecture.parent}: {error}") from None
    return network

"""The merge decoder in NumPy, over the same HDF5 weights Keras saved: no TensorFlow, no re-reading.

Keras's network re-reads the whole prefix for every new word. Decoding needs less: the image projection
is computed once per image, and the LSTM carries its state (h, c) from word to word, so each step is one
embedding lookup, one LSTM cell and the two dense layers, for every row of the batch (images x beams)
in a handful of matrix products.

The maths is Keras's own: LSTM gates in Keras's order (input, forget, cell, output), sigmoid recurrent
activation, tanh activation; Dense layers with ReLU; softmax over the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import CaptionerError

LAYERS = ("image_projection", "word_embedding", "caption_lstm", "decoder_hidden", "next_word")


def read_keras_weights(path: str | Path) -> dict[str, list[np.ndarray]]:
    """``{layer name: [arrays in Keras's order]}`` from a Keras 3 ``.weights.h5`` file."""
    import h5py

    def arrays(group) -> list[np.ndarray]:
        return [group[key][()] for key in sorted(group.keys(), key=int)]

    weights: dict[str, list[np.ndarray]] = {}
    try:
        with h5py.File(path, "r") as file:
            for layer in file["layers"].values():
                # A layer's name is on its "vars" group; an LSTM keeps its arrays in its cell's.
                values = arrays(layer["vars"]) or (arrays(layer["cell"]["vars"]) if "cell" in layer else [])
                if values:
                    weights[str(layer["vars"].attrs["name"])] = values
    except (OSError, KeyError, ValueError) as error:
        raise CaptionerError(f"cannot read weights {path}: {error}") from None
    return weights


@dataclass
class DecoderState:
    image: np.ndarray  # (rows, units): the image projection, fixed for the whole caption
    h: np.ndarray  # (rows, units)
    c: np.ndarray  # (rows, units)


class NumpyMergeDecoder:
    """A :class:`captioner.decode.Stepper` for the merge captioner."""

    def __init__(self, weights: dict[str, list[np.ndarray]], dtype=np.float32):
        missing = [name for name in LAYERS if name not in weights]
        if missing:
            raise CaptionerError(f"the weights have no layer(s) {', '.join(missing)}: not a merge captioner")
        as_type = lambda arrays: [np.ascontiguousarray(a, dtype=dtype) for a in arrays]  # noqa: E731
        self.image_kernel, self.image_bias = as_type(weights["image_projection"])
        (self.embedding,) = as_type(weights["word_embedding"])
        lstm_kernel, lstm_recurrent, self.lstm_bias = as_type(weights["caption_lstm"])
        self.hidden_kernel, self.hidden_bias = as_type(weights["decoder_hidden"])
        self.output_kernel, self.output_bias = as_type(weights["next_word"])
        self.units = lstm_recurrent.shape[0]
        self.dtype = dtype
        # One product for the word's and the state's contribution to the gates: [x, h] @ [[W], [U]].
        # Only the joined kernel is kept: an ensemble holds several decoders in every worker.
        self.gate_kernel = np.concatenate([lstm_kernel, lstm_recurrent])

    @classmethod
    def from_file(cls, path: str | Path) -> "NumpyMergeDecoder":
        return cls(read_keras_weights(path))

    def start(self, features: np.ndarray) -> DecoderState:
        image = np.maximum(features.astype(self.dtype) @ self.image_kernel + self.image_bias, 0)
        zeros = np.zeros((len(features), self.units), self.dtype)
        return DecoderState(image, zeros, zeros.copy())

    def step(self, state: DecoderState, words: np.ndarray) -> tuple[np.ndarray, DecoderState]:
        x = self.embedding[words]
        gates = _product(np.concatenate([x, state.h], axis=1), self.gate_kernel) + self.lstm_bias
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * state.c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        hidden = np.maximum(_product(state.image + h, self.hidden_kernel) + self.hidden_bias, 0)
        logits = _product(hidden, self.output_kernel) + self.output_bias
        return _log_softmax(logits.astype(np.float64)), DecoderState(state.image, h, c)

    def reorder(self, state: DecoderState, rows: np.ndarray) -> DecoderState:
        return DecoderState(state.image[rows], state.h[rows], state.c[rows])


def _product(rows: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``rows @ kernel``, one row at a time when there are few rows.

    OpenBLAS's matrix product repacks the whole kernel on every call, which for a beam's 3 or 4 rows costs
    more than the arithmetic: 3 rows x (512 x 1024) took 260 us against 3 x 29 us as vector products. For
    the shipped three-decoder ensemble, between photo encodings, decoding with beam 3 went from 18.1 to
    12.9 ms per photo (median), beam 4 from 18.0 to 16.4 ms. (ONNX Runtime, which packs weights once, gave
    12.5 ms, but its packed copies cost 50 MB more per worker.)
    """
    if 1 < len(rows) <= FEW_ROWS:
        return np.stack([row @ kernel for row in rows])
    return rows @ kernel


FEW_ROWS = 4  # measured for beams 3 and 4; wider batches keep the matrix product


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

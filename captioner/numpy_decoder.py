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
from typing import Sequence

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
    image: np.ndarray  # (decoders, rows, units): the image projection, fixed for the whole caption
    h: np.ndarray  # (decoders, rows, units)
    c: np.ndarray  # (decoders, rows, units)


class NumpyMergeDecoder:
    """A :class:`captioner.decode.Stepper` for the merge captioner: one decoder, or an ensemble of them.

    An ensemble's decoders are stacked along a leading axis, so each step is the same handful of NumPy
    calls whatever their number (looping over three separate decoders spent a third of a greedy caption's
    decoding time in Python: 8.3 -> 5.7 ms per photo here, ``benchmarks/measure_decoding.py``). Their
    next-word distributions are averaged, as :class:`captioner.decode.EnsembleStepper` averages any
    steppers'.
    """

    def __init__(self, members: Sequence[dict[str, list[np.ndarray]]], dtype=np.float32):
        if not members:
            raise CaptionerError("a decoder needs the weights of at least one network")
        for weights in members:
            missing = [name for name in LAYERS if name not in weights]
            if missing:
                raise CaptionerError(f"the weights have no layer(s) {', '.join(missing)}: not a merge captioner")
        shapes = {name: [tuple(a.shape) for a in members[0][name]] for name in LAYERS}
        if any({name: [tuple(a.shape) for a in weights[name]] for name in LAYERS} != shapes for weights in members):
            raise CaptionerError("the decoders of an ensemble must all have the same shapes")

        def stacked(layer: str) -> list[np.ndarray]:
            """The layer's arrays with the decoders along a new first axis; vectors become (decoders, 1, n)."""
            arrays = zip(*(weights[layer] for weights in members))
            return [np.ascontiguousarray(np.stack(a) if a[0].ndim == 2 else np.stack(a)[:, None], dtype=dtype)
                    for a in arrays]

        self.members = len(members)
        self.image_kernel, self.image_bias = stacked("image_projection")
        (self.embedding,) = stacked("word_embedding")
        lstm_kernel, lstm_recurrent, self.lstm_bias = stacked("caption_lstm")
        self.hidden_kernel, self.hidden_bias = stacked("decoder_hidden")
        self.output_kernel, self.output_bias = stacked("next_word")
        self.dtype = dtype
        # One product for the word's and the state's contribution to the gates: [x, h] @ [[W], [U]].
        # Only the joined kernel is kept: every worker holds all the decoders.
        self.gate_kernel = np.concatenate([lstm_kernel, lstm_recurrent], axis=1)

    @classmethod
    def from_files(cls, paths: Sequence[str | Path]) -> "NumpyMergeDecoder":
        return cls([read_keras_weights(path) for path in paths])

    @classmethod
    def from_file(cls, path: str | Path) -> "NumpyMergeDecoder":
        return cls.from_files([path])

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[1]

    @property
    def feature_size(self) -> int:
        return self.image_kernel.shape[1]

    def start(self, features: np.ndarray) -> DecoderState:
        image = np.maximum(features.astype(self.dtype) @ self.image_kernel + self.image_bias, 0)
        zeros = np.zeros_like(image)
        return DecoderState(image, zeros, zeros.copy())

    def step(self, state: DecoderState, words: np.ndarray) -> tuple[np.ndarray, DecoderState]:
        x = self.embedding[:, words]
        gates = _product(np.concatenate([x, state.h], axis=2), self.gate_kernel) + self.lstm_bias
        i, f, g, o = np.split(gates, 4, axis=2)
        c = _sigmoid(f) * state.c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        hidden = np.maximum(_product(state.image + h, self.hidden_kernel) + self.hidden_bias, 0)
        logits = (_product(hidden, self.output_kernel) + self.output_bias).astype(np.float64)
        return _mean_log_softmax(logits), DecoderState(state.image, h, c)

    def reorder(self, state: DecoderState, rows: np.ndarray) -> DecoderState:
        return DecoderState(state.image[:, rows], state.h[:, rows], state.c[:, rows])


def _product(rows: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``rows @ kernel`` for every decoder, (decoders, rows, n) @ (decoders, n, m); one row at a time when
    there are few rows.

    OpenBLAS's matrix product repacks the whole kernel on every call, which for a beam's 3 or 4 rows costs
    more than the arithmetic: 3 rows x (512 x 1024) took 260 us against 3 x 29 us as vector products. For
    the shipped three-decoder ensemble, between photo encodings, decoding with beam 3 went from 18.1 to
    12.9 ms per photo (median), beam 4 from 18.0 to 16.4 ms. (ONNX Runtime, which packs weights once, gave
    12.5 ms, but its packed copies cost 50 MB more per worker.)
    """
    if 1 < rows.shape[1] <= FEW_ROWS:
        return np.concatenate([rows[:, r:r + 1] @ kernel for r in range(rows.shape[1])], axis=1)
    return rows @ kernel


FEW_ROWS = 4  # measured for beams 3 and 4; wider batches keep the matrix product


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


def _mean_log_softmax(logits: np.ndarray) -> np.ndarray:
    """(decoders, rows, words) logits -> (rows, words) log of the decoders' mean next-word distribution."""
    shifted = logits - logits.max(axis=2, keepdims=True)
    if len(logits) == 1:
        return shifted[0] - np.log(np.exp(shifted[0]).sum(axis=1, keepdims=True))
    exponentials = np.exp(shifted)
    with np.errstate(divide="ignore"):  # a word every decoder rules out entirely: log 0
        return np.log((exponentials / exponentials.sum(axis=2, keepdims=True)).mean(axis=0))

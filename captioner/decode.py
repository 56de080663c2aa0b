"""Turning next-word distributions into captions, and the merge decoder that gives them, in NumPy.

Decoding runs over a *stepper*: an object that, given a batch of image features, returns a decoding
state, and that maps (state, last word of each row) to (log-probabilities of the next word, new state).
The search below never sees how the network computes; a stepper may re-read the whole prefix (the Keras
reference, :class:`KerasPrefixStepper`) or carry the LSTM state forward word by word (:class:`NumpyMergeDecoder`).

The NumPy decoder reads the same HDF5 weights Keras saved: no TensorFlow, no re-reading. Keras's network re-reads
the whole prefix for every new word. Decoding needs less: the image projection is computed once per image, and the
LSTM carries its state (h, c) from word to word, so each step is one embedding lookup, one LSTM cell and the two
dense layers, for every row of the batch (images x beams) in a handful of matrix products. The maths is Keras's
own: LSTM gates in Keras's order (input, forget, cell, output), sigmoid recurrent activation, tanh activation;
Dense layers with ReLU; softmax over the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from . import CaptionerError
from .text import END_ID, PAD_ID, START_ID, UNK_ID, Vocabulary

# Words a caption may never contain: padding, the start token and the unknown-word stand-in.
BANNED_IDS = (PAD_ID, UNK_ID, START_ID)


class Stepper(Protocol):
    def start(self, features: np.ndarray) -> object: ...

    def step(self, state: object, words: np.ndarray) -> tuple[np.ndarray, object]: ...

    def reorder(self, state: object, rows: np.ndarray) -> object: ...


@dataclass
class Candidate:
    ids: list[int]  # the caption's words, without <start> and <end>
    log_prob: float  # log P(words, <end> | image)

    def score(self, length_penalty: float) -> float:
        """Log-probability per word (``<end>`` counted), to the power ``length_penalty``.

        0 ranks by raw log-probability, which favours short captions; 1 by the per-word average.
        """
        return self.log_prob / (len(self.ids) + 1) ** length_penalty


# --- The merge decoder in NumPy ----------------------------------------------------------------------------------

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
    """A :class:`Stepper` for the merge captioner: one decoder, or an ensemble of them.

    An ensemble's decoders are stacked along a leading axis, so each step is the same handful of NumPy
    calls whatever their number (looping over three separate decoders spent a third of a greedy caption's
    decoding time in Python: 8.3 -> 5.7 ms per photo here, ``benchmarks/measure_decoding.py``). Their
    next-word distributions are averaged, as :class:`EnsembleStepper` averages any
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


# --- Other steppers, and the searches ----------------------------------------------------------------------------

class KerasPrefixStepper:
    """The reference stepper: runs the Keras model on the whole prefix at every step.

    Its state is (image features, prefix ids so far). Quadratic in caption length, but it is the
    trained network itself, so every faster stepper is checked against it.
    """

    def __init__(self, network):
        self.network = network

    def start(self, features: np.ndarray):
        return features.astype(np.float32), np.zeros((len(features), 0), np.int32)

    def step(self, state, words: np.ndarray):
        features, prefix = state
        prefix = np.concatenate([prefix, words.astype(np.int32)[:, None]], axis=1)
        probs = np.asarray(self.network([features, prefix], training=False)[:, -1, :], dtype=np.float64)
        return np.log(np.maximum(probs, 1e-30)), (features, prefix)

    def reorder(self, state, rows: np.ndarray):
        features, prefix = state
        return features[rows], prefix[rows]


class EnsembleStepper:
    """Several steppers as one: the next-word distribution is the mean of theirs.

    Members share the encoder (they differ in seed or recipe), so each starts from the same features.
    """

    def __init__(self, members: list[Stepper]):
        self.members = members

    def start(self, features: np.ndarray):
        return [member.start(features) for member in self.members]

    def step(self, state, words: np.ndarray):
        steps = [member.step(s, words) for member, s in zip(self.members, state)]
        log_probs = np.stack([lp for lp, _ in steps])
        peak = log_probs.max(axis=0)
        peak = np.where(np.isfinite(peak), peak, 0.0)  # words no member can say stay at -inf, not NaN
        with np.errstate(divide="ignore"):
            mean = peak + np.log(np.exp(log_probs - peak).mean(axis=0))
        return mean, [s for _, s in steps]

    def reorder(self, state, rows: np.ndarray):
        return [member.reorder(s, rows) for member, s in zip(self.members, state)]


def keras_reference(networks: list) -> Stepper:
    """The Keras stepper for a model's decoder networks: the network itself, or their ensemble."""
    steppers = [KerasPrefixStepper(network) for network in networks]
    return steppers[0] if len(steppers) == 1 else EnsembleStepper(steppers)


def greedy_decode(stepper: Stepper, features: np.ndarray, max_length: int) -> list[list[int]]:
    """The most likely word at every step: beam search of width 1."""
    return [best[0].ids for best in beam_search(stepper, features, max_length, beam_size=1)]


def beam_search(
    stepper: Stepper, features: np.ndarray, max_length: int, beam_size: int = 3, length_penalty: float = 0.0,
    banned: np.ndarray | None = None, required: np.ndarray | None = None,
) -> list[list[Candidate]]:
    """The ``beam_size`` best captions of every image, best first.

    All images and all their beams go through the stepper as one batch of ``images * beam_size`` rows.
    Captions have at least one word. A beam that has said ``<end>`` is kept, frozen, until every beam of every
    image has ended or ``max_length`` (which counts ``<start>`` and ``<end>``) is reached; captions cut off at the
    limit are returned as they are.

    ``banned`` (images x vocabulary, boolean) rules words out of each image's captions. ``required`` (the
    same shape) asks for captions that say at least one of the image's marked words: constrained beam search
    (Anderson et al., EMNLP 2017) with one disjunctive constraint, which keeps a second bank of beams that
    have said one. Its candidates are that bank's; an image whose bank never finished a caption gets the
    unconstrained bank's instead.
    """
    images, beams = len(features), beam_size
    banks = 1 if required is None else 2
    per_image = banks * beams
    state = stepper.reorder(stepper.start(features), np.repeat(np.arange(images), per_image))
    words = np.full(images * per_image, START_ID, dtype=np.int64)
    # Only the first beam of each image is live at the start, so the first step does not pick the
    # same word K times.
    scores = np.tile(np.r_[0.0, np.full(per_image - 1, -np.inf)], images)
    history = np.zeros((images * per_image, 0), dtype=np.int64)
    finished = np.zeros(images * per_image, dtype=bool)
    row_banned = None if banned is None else np.repeat(banned, per_image, axis=0)
    for step in range(max_length - 1):
        log_probs, state = stepper.step(state, words)
        log_probs[:, list(BANNED_IDS)] = -np.inf
        if row_banned is not None:
            log_probs[row_banned] = -np.inf
        if step == 0:
            log_probs[:, END_ID] = -np.inf  # a caption has at least one word
        # A finished beam may only "continue" with padding, at no cost, so it keeps its score.
        log_probs[finished] = -np.inf
        log_probs[finished, PAD_ID] = 0.0
        vocab = log_probs.shape[1]
        total = (scores[:, None] + log_probs).reshape(images, per_image, vocab)
        # Each bank's picks, with their scores as that bank counts them (-inf where a pick cannot enter it).
        banked = [candidates.reshape(images, per_image * vocab)
                  for candidates in _bank_candidates(total, required, beams)]
        picks = [top_k(candidates, beams) for candidates in banked]
        best = np.concatenate(picks, axis=1)  # (images, banks * beams): bank 0's picks, then bank 1's
        scores = np.concatenate([np.take_along_axis(c, p, axis=1) for c, p in zip(banked, picks)], axis=1).ravel()
        rows = (np.arange(images)[:, None] * per_image + best // vocab).ravel()
        words = (best % vocab).ravel()
        history = np.concatenate([history[rows], words[:, None]], axis=1)
        finished = finished[rows] | (words == END_ID)
        state = stepper.reorder(state, rows)
        if finished.all():
            break
    return [_candidates(image, history, scores, banks, beams, length_penalty) for image in range(images)]


def _bank_candidates(total: np.ndarray, required: np.ndarray | None, beams: int) -> list[np.ndarray]:
    """For each bank, every (row, word) extension's score, -inf where it does not lead into that bank.

    ``total`` is (images, banks * beams, vocabulary). Bank 0 holds captions without a required word: it takes
    its own rows' extensions by other words. Bank 1 takes bank 0's extensions by a required word and all of
    its own rows' extensions.
    """
    if required is None:
        return [total]
    unconstrained, constrained = total[:, :beams], total[:, beams:]
    marked = required[:, None, :]
    into_bank_0 = np.concatenate([np.where(marked, -np.inf, unconstrained), np.full_like(constrained, -np.inf)], 1)
    into_bank_1 = np.concatenate([np.where(marked, unconstrained, -np.inf), constrained], axis=1)
    return [into_bank_0, into_bank_1]


def _candidates(image: int, history: np.ndarray, scores: np.ndarray, banks: int, beams: int,
                length_penalty: float) -> list[Candidate]:
    """One image's finished captions, best first: from its last bank that has any."""
    start = image * banks * beams
    for bank in reversed(range(banks)):
        candidates = []
        for row in range(start + bank * beams, start + (bank + 1) * beams):
            if np.isfinite(scores[row]):
                ids = [int(w) for w in history[row] if w not in (END_ID, PAD_ID)]
                candidates.append(Candidate(ids, float(scores[row])))
        if candidates:
            return sorted(candidates, key=lambda c: -c.score(length_penalty))
    return []


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest values, largest first; ties go to the lower index, as a
    stable sort would.

    Beams are few, so ``k`` rounds of argmax (which returns the first of equal maxima) beat sorting every
    row of beams x vocabulary: that sort was 2 of a greedy caption's 4.5 ms, and 5 of beam 3's 13 ms.
    """
    if k == 1:
        return np.argmax(values, axis=1)[:, None]
    if k > 16:
        return np.argsort(-values, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(values))
    # Taken values become -inf; the row's own -inf become the lowest finite number, so that they still
    # come before taken ones, in index order, like the stable sort's ties.
    remaining = np.where(np.isneginf(values), np.finfo(np.float64).min, values.astype(np.float64))
    picked = np.empty((len(values), min(k, values.shape[1])), dtype=np.int64)
    for i in range(picked.shape[1]):
        picked[:, i] = np.argmax(remaining, axis=1)
        remaining[rows, picked[:, i]] = -np.inf
    return picked


def caption_text(ids: list[int], vocab: Vocabulary) -> str:
    return " ".join(vocab.decode(ids))

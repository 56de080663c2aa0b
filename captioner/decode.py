"""Turning next-word distributions into captions.

Decoding runs over a *stepper*: an object that, given a batch of image features, returns a decoding
state, and that maps (state, last word of each row) to (log-probabilities of the next word, new state).
The search below never sees how the network computes; a stepper may re-read the whole prefix (the Keras
reference, :class:`KerasPrefixStepper`) or carry the LSTM state forward word by word.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .text import PAD_ID, START_ID, END_ID, UNK_ID, Vocabulary

# Words a caption may never contain: padding, the start token and the unknown-word stand-in.
BANNED_IDS = (PAD_ID, UNK_ID, START_ID)


class Stepper(Protocol):
    def start(self, features: np.ndarray) -> object: ...

    def step(self, state: object, words: np.ndarray) -> tuple[np.ndarray, object]: ...


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


def greedy_decode(stepper: Stepper, features: np.ndarray, max_length: int) -> list[list[int]]:
    """The most likely word at every step, for a batch of images, until ``<end>`` or ``max_length``.

    ``max_length`` counts ``<start>`` and ``<end>``, as :attr:`Vocabulary.max_length` does.
    """
    batch = len(features)
    state = stepper.start(features)
    words = np.full(batch, START_ID, dtype=np.int64)
    captions: list[list[int]] = [[] for _ in range(batch)]
    finished = np.zeros(batch, dtype=bool)
    for _ in range(max_length - 1):
        log_probs, state = stepper.step(state, words)
        log_probs[:, list(BANNED_IDS)] = -np.inf
        words = log_probs.argmax(axis=1)
        for row in np.flatnonzero(~finished):
            if words[row] == END_ID:
                finished[row] = True
            else:
                captions[row].append(int(words[row]))
        if finished.all():
            break
    return captions


def caption_text(ids: list[int], vocab: Vocabulary) -> str:
    return " ".join(vocab.decode(ids))

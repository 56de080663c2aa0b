"""Where did it look? Word-by-word occlusion maps for a caption.

A merge captioner sees the photo only as one feature vector, so gradients through the decoder say
little about places in the photo. Occlusion asks the photo directly: cover one cell of a grid with the
photo's mean colour, encode the covered photo, and see how much each word of the caption loses in
log-probability. The cells whose covering costs a word most are where that word came from.

The covered photos go through the encoder one at a time, each made just before it is encoded, so an
explanation needs no more memory than a caption: ONNX Runtime's memory arena keeps the largest batch it
has run, and the 145 copies of a 12 x 12 grid sent as one batch left a server's worker at 2.0 GB (one at a
time: +28 MB and 1.1x the time of batches of 8, which keep +180 MB; docs/operations.md). The caption is then
read once for all of them by the NumPy decoder, teacher-forced: one decoder step per word, every covered
photo a row of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .text import START_ID

DEFAULT_GRID = 6


@dataclass
class Explanation:
    words: list[str]
    heatmaps: np.ndarray  # (words, grid, grid), each word's map scaled to [0, 1]
    log_probs: np.ndarray  # (words,) each word's log-probability given the whole photo


def occluded_copies(pixels: np.ndarray, grid: int) -> Iterator[np.ndarray]:
    """``grid * grid`` copies of ``pixels`` (H, W, 3), each with one cell covered by the mean colour, made
    one at a time (row by row)."""
    height, width = pixels.shape[:2]
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    mean = pixels.reshape(-1, 3).mean(axis=0).round().astype(pixels.dtype)
    for i in range(grid):
        for j in range(grid):
            copy = pixels.copy()
            copy[rows[i]:rows[i + 1], cols[j]:cols[j + 1]] = mean
            yield copy


def occluded_features(encoder, pixels: np.ndarray, grid: int) -> np.ndarray:
    """``(grid * grid, feature_size)``: the features of each covered copy, encoded one by one (see above)."""
    return np.concatenate([encoder.encode(copy[None]) for copy in occluded_copies(pixels, grid)])


def word_log_probs(stepper, features: np.ndarray, ids: list[int]) -> np.ndarray:
    """``(rows, words)``: log p(word_t | image, words before it), the caption read teacher-forced."""
    state = stepper.start(features)
    inputs = [START_ID] + ids[:-1]
    out = np.empty((len(features), len(ids)))
    for t, (given, target) in enumerate(zip(inputs, ids)):
        log_probs, state = stepper.step(state, np.full(len(features), given))
        out[:, t] = log_probs[:, target]
    return out


def explain(encoder, stepper, pixels: np.ndarray, features: np.ndarray, ids: list[int], words: list[str],
            grid: int = DEFAULT_GRID) -> Explanation:
    """Occlusion maps for the caption ``ids`` (word ids, no ``<start>``/``<end>``) of ``pixels``, whose
    own features ``(1, feature_size)`` the caller has already encoded."""
    batch = np.concatenate([features, occluded_features(encoder, pixels, grid)])
    scores = word_log_probs(stepper, batch, ids)
    # How much each word loses when a cell is covered; a cell that helps a word (a gain) is not "where
    # it looked", so losses only.
    loss = np.maximum(scores[0][None, :] - scores[1:], 0.0)  # (cells, words)
    peak = loss.max(axis=0, keepdims=True)
    maps = np.divide(loss, peak, out=np.zeros_like(loss), where=peak > 0)
    return Explanation(words, maps.T.reshape(len(ids), grid, grid), scores[0])

"""What each line says: the recogniser over the line's pixels, decoded by CTC.

PP-OCRv4's recogniser (SVTR-LCNet) reads a line 48 pixels high and as wide as its aspect ratio makes it, and gives
each of its columns a distribution over the characters and CTC's blank (Graves et al., ICML 2006): the text is the
most probable character of each column, repeats merged and blanks dropped. Lines go in batches of similar width,
padded to the widest (at least 320, as it was trained), so that one run reads several.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .detection import normalised

LINE_HEIGHT = 48
MIN_WIDTH = 320
# The widest a line is read at (a 32:1 line); wider ones are squeezed, which the recogniser reads less well.
MAX_WIDTH = 1536
BATCH = 6


def read_lines(recogniser, alphabet: list[str], image: Image.Image,
               boxes: list[tuple[int, int, int, int]]) -> list[tuple[str, float]]:
    """``(text, confidence)`` for each box, in the boxes' order; confidence is the mean probability of the
    characters read (0 where none is)."""
    lines = [line_pixels(image, box) for box in boxes]
    order = np.argsort([line.shape[1] for line in lines], kind="stable")
    read: list[tuple[str, float]] = [("", 0.0)] * len(lines)
    for start in range(0, len(order), BATCH):
        batch = order[start:start + BATCH]
        width = max(MIN_WIDTH, max(lines[i].shape[1] for i in batch))
        padded = np.zeros((len(batch), 3, LINE_HEIGHT, width), np.float32)  # 0: mid-grey once normalised
        for row, i in enumerate(batch):
            padded[row, :, :, :lines[i].shape[1]] = normalised(lines[i])[0]
        for i, probabilities in zip(batch, recogniser.run(None, {"x": padded})[0]):
            read[i] = ctc_decode(probabilities, alphabet)
    return read


def line_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    """The line's pixels as float32 ``(48, width, 3)``, its aspect ratio kept (up to MAX_WIDTH)."""
    line = image.crop(box)
    width = min(MAX_WIDTH, max(1, round(line.width * LINE_HEIGHT / max(line.height, 1))))
    return np.asarray(line.resize((width, LINE_HEIGHT), Image.BILINEAR), np.float32)


def ctc_decode(probabilities: np.ndarray, alphabet: list[str]) -> tuple[str, float]:
    """Greedy CTC: each column's best symbol, repeats merged, blanks (index 0) dropped."""
    best = probabilities.argmax(axis=1)
    keep = (best != 0) & np.r_[True, best[1:] != best[:-1]]
    if not keep.any():
        return "", 0.0
    text = "".join(alphabet[i] for i in best[keep])
    return text, float(probabilities.max(axis=1)[keep].mean())

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
# The most columns one run reads (lines times the widest): six lines of 320, or one of MAX_WIDTH.
BATCH_COLUMNS = 1920


def read_lines(recogniser, alphabet: list[str], image: Image.Image,
               boxes: list[tuple[int, int, int, int]]) -> list[tuple[str, float]]:
    """``(text, confidence)`` for each box, in the boxes' order; confidence is the mean probability of the
    characters read (0 where none is)."""
    lines = [line_pixels(image, box) for box in boxes]
    read: list[tuple[str, float]] = [("", 0.0)] * len(lines)
    for batch in batches([line.shape[1] for line in lines]):
        width = max(MIN_WIDTH, max(lines[i].shape[1] for i in batch))
        padded = np.zeros((len(batch), 3, LINE_HEIGHT, width), np.float32)  # 0: mid-grey once normalised
        for row, i in enumerate(batch):
            padded[row, :, :, :lines[i].shape[1]] = normalised(lines[i])[0]
        for i, probabilities in zip(batch, recogniser.run(None, {"x": padded})[0]):
            read[i] = ctc_decode(probabilities, alphabet)
    return read


def batches(widths: list[int]) -> list[list[int]]:
    """The lines (as indices) in runs of similar width, narrowest first: at most BATCH lines, and no more than
    BATCH_COLUMNS columns once each is padded to the run's widest (the network's memory grows with them)."""
    batches: list[list[int]] = []
    for i in np.argsort(widths, kind="stable").tolist():
        padded = max(MIN_WIDTH, widths[i]) * (len(batches[-1]) + 1) if batches else 0
        if batches and len(batches[-1]) < BATCH and padded <= BATCH_COLUMNS:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


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

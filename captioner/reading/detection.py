"""Where the lines of text are: the detector's probability map, cut into boxes.

PP-OCRv4's detector is a DB network (Liao et al., AAAI 2020, "Real-time Scene Text Detection with Differentiable
Binarization"): it marks each text line's shrunk core with a probability. PaddleOCR then traces each core's
contour with OpenCV and grows it back by the shrink it was trained with. Here the cores are found by recursive
projection cuts (an XY-cut, Nagy and Seth 1984): a band of rows with text between empty rows, then within it
runs of columns split by gaps wider than the band is high (the space between words is narrower, so a line stays
whole), again inside each piece until nothing splits. That finds horizontal lines, which is what signs, slides
and screenshots hold; text at a slant or on a curve comes out as one box around it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# The detector's input: the shorter side brought up to MIN_SIDE (small text needs the pixels), the longer kept under
# MAX_SIDE, both rounded to the network's stride of 32. The network's memory and time grow with the area (one run of
# it: +288 MB at 736x1024, +173 MB at 640x960, +112 MB at 544x800). RapidOCR's 736 and 1600 read the images of text
# made with seed 1 at a character error rate of 0.40% and ood-dev's photos of text at 34.0%, 381 ms at the median;
# 544 and 800 at 0.54% and 29.5%, 315 ms: upscaled less, large letters are read as well or better. Running larger
# inputs in overlapping tiles instead bounded the memory too, but the overlap cost a third more time.
MIN_SIDE = 544
MAX_SIDE = 800
STRIDE = 32
# A pixel is text where the map says at least this; a line is kept where its text pixels average at least
# LINE_SCORE (PaddleOCR's thresh and box_thresh).
TEXT_THRESHOLD = 0.3
LINE_SCORE = 0.5
# DB's training shrinks each line's polygon by area * (1 - 0.4**2) / perimeter; a core found is grown back by
# its own area * UNCLIP_RATIO / perimeter (PaddleOCR uses 1.5-2.0, RapidOCR 1.6), which restores the line.
UNCLIP_RATIO = 1.6
MIN_LINE_PIXELS = 3
MAX_DEPTH = 8


def find_lines(detector, image: Image.Image) -> list[tuple[int, int, int, int]]:
    """The boxes ``(left, top, right, bottom)`` of the lines of text (or of their words, where these stand apart)
    in ``image``'s pixels; :func:`reading_order` puts them in lines."""
    probabilities = probability_map(detector, image)
    scale_x = image.width / probabilities.shape[1]
    scale_y = image.height / probabilities.shape[0]
    text = probabilities > TEXT_THRESHOLD
    boxes = []
    for top, left, bottom, right in projection_cuts(text):
        height, width = bottom - top, right - left
        if min(height, width) < MIN_LINE_PIXELS:
            continue
        core = probabilities[top:bottom, left:right]
        if core[text[top:bottom, left:right]].mean() < LINE_SCORE:
            continue
        grow = height * width * UNCLIP_RATIO / (2 * (height + width))
        boxes.append((max(0, int((left - grow) * scale_x)), max(0, int((top - grow) * scale_y)),
                      min(image.width, int(np.ceil((right + grow) * scale_x))),
                      min(image.height, int(np.ceil((bottom + grow) * scale_y)))))
    return boxes


def reading_order(boxes: list[tuple[int, int, int, int]]) -> list[list[int]]:
    """The boxes grouped into lines, top to bottom, each line's boxes left to right (as indices). A box joins the
    line above when the middle halves of their heights share at least half the height of the lower one's: a line's
    words can come as separate boxes (a gap between cores is wider than the gap between the words) a few pixels
    apart in height, while the lines of a tightly set sign, once grown back from their cores, overlap: their
    middles do not."""
    lines: list[list[int]] = []
    spans: list[tuple[float, float]] = []
    for i in sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3]) / 2):
        quarter = (boxes[i][3] - boxes[i][1]) / 4
        top, bottom = boxes[i][1] + quarter, boxes[i][3] - quarter
        if spans:
            line_top, line_bottom = spans[-1]
            shared = min(bottom, line_bottom) - max(top, line_top)
            if shared >= 0.5 * min(bottom - top, line_bottom - line_top):
                lines[-1].append(i)
                spans[-1] = (min(top, line_top), max(bottom, line_bottom))
                continue
        lines.append([i])
        spans.append((top, bottom))
    return [sorted(line, key=lambda i: boxes[i][0]) for line in lines]


def probability_map(detector, image: Image.Image) -> np.ndarray:
    """(height, width) float32: how likely each pixel of the resized image is part of a line's core."""
    width, height = network_size(image.width, image.height)
    pixels = np.asarray(image.resize((width, height), Image.BILINEAR), np.float32)
    return detector.run(None, {"x": normalised(pixels)})[0][0, 0]


def network_size(width: int, height: int) -> tuple[int, int]:
    scale = max(1.0, MIN_SIDE / min(width, height))
    scale = min(scale, MAX_SIDE / max(width, height))
    return (max(STRIDE, round(width * scale / STRIDE) * STRIDE), max(STRIDE, round(height * scale / STRIDE) * STRIDE))


def normalised(pixels: np.ndarray) -> np.ndarray:
    """(1, 3, height, width) in [-1, 1], BGR: PaddleOCR's networks were trained on OpenCV's channel order."""
    return np.ascontiguousarray((pixels[:, :, ::-1] / 127.5 - 1.0).transpose(2, 0, 1)[None], dtype=np.float32)


def projection_cuts(text: np.ndarray, top: int = 0, left: int = 0, depth: int = 0) -> list[tuple[int, int, int, int]]:
    """Boxes ``(top, left, bottom, right)`` of ``text``'s lines, by cutting at empty rows, then at column gaps
    wider than the band is high, recursively."""
    boxes = []
    rows = runs(text.any(axis=1), gap=1)
    for start, end in rows:
        band = text[start:end]
        columns = runs(band.any(axis=0), gap=max(2, int((end - start) * 1.2)))
        for first, last in columns:
            piece = band[:, first:last]
            if (len(rows) > 1 or len(columns) > 1) and depth < MAX_DEPTH:
                boxes += projection_cuts(piece, top + start, left + first, depth + 1)
            else:
                boxes.append((top + start, left + first, top + end, left + last))
    return boxes


def runs(marked: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the runs of True in ``marked``, joined across fewer than ``gap`` False in a row."""
    where = np.flatnonzero(marked)
    if not len(where):
        return []
    breaks = np.flatnonzero(np.diff(where) > gap)
    return list(zip(np.r_[where[0], where[breaks + 1]].tolist(), (np.r_[where[breaks], where[-1]] + 1).tolist()))

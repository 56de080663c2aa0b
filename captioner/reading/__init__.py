"""Reading the text in an image: PP-OCRv4's text detector and recogniser, in ONNX Runtime and NumPy.

Alt text for an image of text must carry its text (WCAG 1.1.1). The two networks are PaddleOCR's PP-OCRv4 mobile
models as RapidOCR ships them in ONNX (``rapidocr-onnxruntime``, Apache-2.0; ``tools/make_text_reader.py`` copies
them into the model folder). RapidOCR's own pre- and post-processing needs OpenCV (288 MB installed); here they
are Pillow and NumPy, so reading adds the two model files (16 MB) and nothing to the serving install:

1. :mod:`.detection`: the detector's text probability map, cut into line boxes by projections.
2. :mod:`.recognition`: each line resized to the recogniser's height, its characters read by CTC.

    reader = TextReader.from_folder("model")
    for line in reader.read(Image.open("sign.jpg")):
        print(line.text, line.confidence, line.box)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .. import CaptionerError
from ..model_folder import TEXT_DETECTOR_FILE, TEXT_RECOGNISER_FILE, load_onnx
from .detection import find_lines, reading_order
from .recognition import read_lines
from .spacing import restore_spaces

# The copy of an upload that is read, at most this many pixels on its longer side: the detector sees it smaller
# still (.detection.MAX_SIDE), but the recogniser reads each line from this copy, where small print keeps its
# pixels (a screenshot's 15-pixel words).
READING_SIDE = 1600
# A line of fewer letters and digits is left out: a lone character is more often a shape (a circle read as "O",
# a post as "1") than a word.
MIN_CHARACTERS = 2


@dataclass(frozen=True)
class TextLine:
    """One line of text: what it says, how sure the recogniser is (mean of its characters'), and where it is, as
    ``(left, top, right, bottom)`` in the image's pixels."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]

    def as_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 3), "box": list(self.box)}


class TextReader:
    """Finds the lines of text in an image and reads them, in reading order (top to bottom, then left to right);
    a line's words found apart are read apart and joined with a space, and spaces the recogniser dropped between
    words are put back (:mod:`.spacing`)."""

    def __init__(self, detector_path: str | Path, recogniser_path: str | Path, threads: int | None = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Without them a session keeps the most memory it ever used (ONNX Runtime's arena, and its plan for the
        # largest input it saw): a server's worker stayed at 750 MB after reading images of text, against 190 MB.
        # Without, what a reading used is freed after it (and returned by the server's malloc_trim).
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self.detector = load_onnx(detector_path, options, "the text detector")
        self.recogniser = load_onnx(recogniser_path, options, "the text recogniser")
        characters = self.recogniser.get_modelmeta().custom_metadata_map.get("character")
        if not characters:
            raise CaptionerError(f"the text recogniser {recogniser_path} lists no characters in its metadata")
        # CTC's blank first, then the model's characters and the space its training appended last.
        self.alphabet = ["", *characters.splitlines(), " "]

    @classmethod
    def from_folder(cls, folder: str | Path, threads: int | None = 1) -> "TextReader | None":
        """The model folder's text reader, or None where the folder has none."""
        folder = Path(folder)
        if not (folder / TEXT_DETECTOR_FILE).is_file():
            return None
        return cls(folder / TEXT_DETECTOR_FILE, folder / TEXT_RECOGNISER_FILE, threads)

    def read(self, image: Image.Image | np.ndarray, min_confidence: float = 0.0,
             mend_spaces: bool = True) -> list[TextLine]:
        """Every line found, read; those the recogniser is less sure of than ``min_confidence``, and those of fewer
        than MIN_CHARACTERS letters and digits, left out.
        ``mend_spaces=False`` leaves the lines as the recogniser spaced them (to measure what mending does)."""
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        image = image.convert("RGB")
        boxes = find_lines(self.detector, image)
        pieces = read_lines(self.recogniser, self.alphabet, image, boxes)
        lines = []
        for line in reading_order(boxes):
            kept = [i for i in line if pieces[i][0].strip() and pieces[i][1] >= min_confidence]
            if sum(c.isalnum() for i in kept for c in pieces[i][0]) < MIN_CHARACTERS:
                continue
            text = " ".join(pieces[i][0].strip() for i in kept)
            text = restore_spaces(text) if mend_spaces else text
            # weighted by length: a line's confidence is its characters' mean, as for a piece
            confidence = sum(pieces[i][1] * len(pieces[i][0]) for i in kept) / sum(len(pieces[i][0]) for i in kept)
            lines.append(TextLine(text, confidence, enclosing([boxes[i] for i in kept])))
        return lines


def enclosing(boxes) -> tuple[int, int, int, int]:
    """The smallest box ``(left, top, right, bottom)`` around ``boxes``."""
    return (min(box[0] for box in boxes), min(box[1] for box in boxes),
            max(box[2] for box in boxes), max(box[3] for box in boxes))

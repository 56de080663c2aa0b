"""Whether to look for text at all: a decision from what the caption already computed, so photos pay nothing.

Reading costs a detector pass at 736 pixels or more (180 ms here) and a recogniser pass per line, while most
photos hold no text worth reading. Three signs come free with the caption, and any one of them sends an image
to the reader:

- a logistic **probe** over the encoder's features (as the concept probes are), fitted to tell images of text
  (``harness/text_images.py``'s signs, slides, screenshots and captions over photos, and signs pasted into
  Flickr8k training photos) from Flickr8k's training photos (``tools/make_text_gate.py``);
- the encoder's **ImageNet classes** whose images are mostly text (a street sign, a menu, a website, a book
  jacket...), summed;
- the image is **not a photo** (a graphic: a chart, a slide, a screenshot).

A low-resolution detector pass was measured as the alternative: 7 ms at 160 pixels and 13 ms at 224, more than
the whole budget for a photo without text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..guidance.recognition import sigmoid
from ..io import atomic_path

# ImageNet classes (indices in the encoder's 1000) whose photos are mostly text or a screen of it: website, comic
# book, crossword, street sign, book jacket, menu, scoreboard, packet, envelope, monitor, CRT monitor, television,
# notebook computer, tobacco shop, barbershop, vending machine, slot machine, digital clock, ring binder.
TEXT_CLASSES = (916, 917, 918, 919, 921, 922, 781, 692, 549, 664, 782, 851, 681, 860, 424, 886, 800, 530, 446)


@dataclass(frozen=True)
class TextGate:
    kernel: np.ndarray  # (features,) the probe's weights
    bias: float
    probe_threshold: float  # the probe's probability from which an image is read
    imagenet_threshold: float  # the TEXT_CLASSES' summed probability from which an image is read

    @classmethod
    def from_file(cls, path: str | Path) -> "TextGate":
        try:
            with np.load(path) as arrays:
                return cls(arrays["kernel"].astype(np.float32), float(arrays["bias"]),
                           float(arrays["probe_threshold"]), float(arrays["imagenet_threshold"]))
        except (OSError, KeyError, ValueError) as error:
            raise CaptionerError(f"cannot read the text gate {path}: {error}") from None

    def save(self, path: str | Path) -> None:
        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as file:
                np.savez(file, kernel=self.kernel, bias=self.bias, probe_threshold=self.probe_threshold,
                         imagenet_threshold=self.imagenet_threshold)

    def probe(self, features: np.ndarray) -> np.ndarray:
        """(images,): the probe's probability that each image is, or holds, text."""
        return sigmoid(features.astype(np.float32) @ self.kernel + self.bias)

    def should_read(self, features: np.ndarray, class_probabilities: np.ndarray, photo: np.ndarray) -> np.ndarray:
        """(images,) bool: which images to look for text in, from their features, the encoder's ImageNet class
        probabilities (images, 1000) and whether each is a photo."""
        text_classes = class_probabilities[:, list(TEXT_CLASSES)].sum(axis=1)
        return (self.probe(features) >= self.probe_threshold) | (text_classes >= self.imagenet_threshold) | ~photo

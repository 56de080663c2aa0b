"""Is it a photo at all? What can be said of an image that is not: a plain colour, a gradient, noise, a graphic.

The decoder describes every image as a Flickr8k photo ("a man in a white shirt is standing in the grass" for a black
square), so images that are not photos are recognised from their pixels first, at the encoder's input size, where
the statistics below are cheap (a few milliseconds):

- **plain**: every channel's spread under ``PLAIN_SPREAD`` (a blank or near-blank image): "A plain black image."
- **gradient**: nearly all neighbouring pixels equal (``flat``) and no edges (``edges``): "A gradient from blue to
  green."
- **graphic**: large areas of a few exact colours (``flat`` and ``top_colours``), as charts, slides, drawings,
  icons and logos are made; nothing can be said of them without reading them, so a person must describe them.
- **noise**: neighbouring pixels barely related (``neighbour_correlation``), few of them equal, and far from every
  Flickr8k photo.

Every threshold keeps all of Flickr8k dev's photos and ood-dev's everyday photos on the photo side; they were
chosen on the images of ``harness/non_photos.py`` (docs/experiments.md, *Knowing when it does not know*). An
image that none of them catches is still far from the training photos by its novelty, so it is never described
with confidence.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .concepts import article

# Below this standard deviation (of the widest channel, in 0-255 levels) an image is one colour: Flickr8k dev's
# photos have 22 or more, a blank image with sensor-like noise under 2.
PLAIN_SPREAD = 3.0
# Neighbouring pixels within 2 levels (of every channel): Flickr8k dev and ood-dev photos have at most 0.85 of them,
# graphics 0.9 and more, gradients 0.99.
FLAT_LEVELS = 2
GRAPHIC_FLAT = 0.9
GRADIENT_FLAT = 0.99
# A gradient has no edges: the mean absolute Laplacian of the grey image (photos: 1.7 and more).
GRADIENT_EDGES = 1.5
# The share of pixels in the four commonest colours (at 16 levels a channel): photos at most 0.81, graphics 0.85+.
GRAPHIC_TOP_COLOURS = 0.85
# Noise: neighbouring pixels' correlation below this (photos: 0.84 and more), few flat neighbours (a slide's text on
# a flat background also correlates little), and further from the training photos than all but 1% of Flickr8k dev.
NOISE_CORRELATION = 0.8
NOISE_FLAT = 0.6
NOISE_NOVELTY = 0.99


class PixelStatistics:
    """The statistics of one image, ``(height, width, 3)`` uint8, each computed when first asked for: a photo is
    told from the rest by the first two (well under a millisecond), so it never pays for the others. Neighbours
    are compared on every fourth row (across) and column (down): a quarter of the work, the same shares."""

    def __init__(self, pixels: np.ndarray):
        self.pixels = pixels

    @cached_property
    def spread(self) -> float:
        """The widest channel's standard deviation, over every fourth pixel each way."""
        return float(self.pixels[::4, ::4].reshape(-1, 3).astype(np.float32).std(axis=0).max())

    @cached_property
    def flat(self) -> float:
        """The share of neighbouring pixel pairs within FLAT_LEVELS in every channel."""
        rows, columns = self.pixels[::4].astype(np.int16), self.pixels[:, ::4].astype(np.int16)
        across = np.abs(np.diff(rows, axis=1)).max(axis=2) <= FLAT_LEVELS
        down = np.abs(np.diff(columns, axis=0)).max(axis=2) <= FLAT_LEVELS
        return float((across.mean() + down.mean()) / 2)

    @cached_property
    def top_colours(self) -> float:
        """The share of pixels in the four commonest colours, at 16 levels a channel."""
        levels = (self.pixels // 16).reshape(-1, 3).astype(np.int32)
        counts = np.bincount(levels[:, 0] * 256 + levels[:, 1] * 16 + levels[:, 2], minlength=4096)
        return float(np.sort(counts)[-4:].sum() / counts.sum())

    @cached_property
    def grey(self) -> np.ndarray:
        return self.pixels.astype(np.float32).mean(axis=2)

    @cached_property
    def neighbour_correlation(self) -> float:
        """The correlation of horizontally neighbouring grey levels (1 for a flat image)."""
        left, right = self.grey[:, :-1].ravel(), self.grey[:, 1:].ravel()
        return float(np.corrcoef(left, right)[0, 1]) if left.std() > 0 and right.std() > 0 else 1.0

    @cached_property
    def edges(self) -> float:
        """The mean absolute Laplacian of the grey image."""
        g = self.grey
        return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean())


@dataclass(frozen=True)
class ImageKind:
    """What kind of image it is, and for one that is not a photo, the sentence that can truly be said of it."""

    kind: str  # photo, plain, gradient, noise, graphic
    description: str = ""  # lower case, no full stop, as captions are; empty for a photo or a graphic

    @property
    def photo(self) -> bool:
        return self.kind == "photo"


def classify(pixels: np.ndarray, novelty: float) -> ImageKind:
    """The kind of one image (``(height, width, 3)`` uint8, as the encoder gets it) whose novelty is ``novelty``."""
    stats = PixelStatistics(pixels)
    if stats.spread < PLAIN_SPREAD:
        return ImageKind("plain", f"a plain {colour_name(pixels.reshape(-1, 3).mean(axis=0))} image")
    if stats.flat >= GRADIENT_FLAT and stats.edges < GRADIENT_EDGES:
        start, end = gradient_ends(pixels)
        if start == end:
            return ImageKind("gradient", f"a smooth {start} gradient")
        return ImageKind("gradient", f"a gradient from {start} to {end}")
    if stats.flat >= GRAPHIC_FLAT and stats.top_colours >= GRAPHIC_TOP_COLOURS:
        return ImageKind("graphic")
    if novelty >= NOISE_NOVELTY and stats.flat < NOISE_FLAT and stats.neighbour_correlation < NOISE_CORRELATION:
        return ImageKind("noise", "an image of random noise")
    return ImageKind("photo")


def gradient_ends(pixels: np.ndarray) -> tuple[str, str]:
    """The names of a gradient's two ends: the mean colours of the tenth of pixels at each end of its main axis."""
    colours = pixels.reshape(-1, 3).astype(np.float32)
    centred = colours - colours.mean(axis=0)
    axis = np.linalg.svd(centred[:: max(1, len(centred) // 4096)], full_matrices=False)[2][0]
    position = centred @ axis
    low, high = np.quantile(position, [0.1, 0.9])
    return colour_name(colours[position <= low].mean(axis=0)), colour_name(colours[position >= high].mean(axis=0))


def colour_name(rgb) -> str:
    """A plain English name for an RGB colour: black, grey, white, or a hue with light / dark where it is."""
    red, green, blue = (float(c) / 255 for c in rgb)
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    if saturation < 0.15 or lightness < 0.08 or lightness > 0.95:
        if lightness < 0.12:
            return "black"
        if lightness > 0.9:
            return "white"
        return "dark grey" if lightness < 0.35 else "light grey" if lightness > 0.7 else "grey"
    degrees = hue * 360
    name = next(n for limit, n in HUES if degrees < limit)
    if name in ("orange", "red") and lightness < 0.35:
        return "brown" if name == "orange" else "dark red"
    if name == "red" and lightness > 0.7:
        return "pink"
    return f"dark {name}" if lightness < 0.25 else f"light {name}" if lightness > 0.75 else name


HUES = ((15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (195, "teal"), (255, "blue"), (290, "purple"),
        (335, "pink"), (361, "red"))


def sentence(description: str) -> str:
    """A description as alt text: "a plain black image" -> "A plain black image."."""
    return description[:1].upper() + description[1:] + "."


def may_be(word: str) -> str:
    """The alt text for a thing the classifier is fairly sure of, and nothing more: "May be a cheetah."."""
    return f"May be {article(word)} {word}."

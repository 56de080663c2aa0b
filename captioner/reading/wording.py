"""What the alt text says of the text found in an image: 'A red sign that says "NO PARKING".'

Alt text for an image of text carries that text (WCAG 1.1.1), quoted, in reading order, lines joined as sentences.
How it is introduced depends on what else is known of the image:

- not a photo (a slide, a screenshot, a chart): 'A slide titled "Quarterly review": "Budget. Next steps".' where the
  first line stands out as a title (taller than the rest) on a landscape image, else 'An image that says "...".';
- a photo that is mostly text (it covers a large part of it): of five lines or more, 'A page of text that says
  "..."'; of fewer, or where the ImageNet layer sees a sign, 'A red sign that says "..."', the colour the one
  around the lines;
- any other photo: its alt text, then 'with the words "..."' ('A dog runs on the beach with the words "MONDAY
  MORNING".'); where the model could say nothing of the photo, 'An image with the words "...".'

Long text is cut at a word, and the alt text says so; the API's ``text`` holds every line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..guidance.kinds import colour_name
from . import TextLine, enclosing

# Alt text is read aloud in full: past this many characters of quoted text, the quote is cut at a word.
LONGEST_QUOTE = 150
# A first line this much taller than the median of the others is a title.
TITLE_HEIGHT = 1.3
# A photo whose lines cover this share of it (their bounding box) is taken for a sign.
SIGN_AREA = 0.25
# Landscape slides: width over height from 4:3 to 16:9 and a little either side.
SLIDE_ASPECT = (1.2, 1.9)
# From this many lines, an image of text is a page (a document, a book, a screen of notes), not a sign.
PAGE_LINES = 5


@dataclass(frozen=True)
class FoundText:
    """The lines read in one image, with what the wording needs of the image: its size and the colour around
    the lines (both in the pixels the boxes are in)."""

    lines: tuple[TextLine, ...]
    size: tuple[int, int]  # width, height
    colour: str

    @classmethod
    def of(cls, pixels: np.ndarray, lines: list[TextLine], scale: float = 1.0) -> "FoundText":
        """``lines`` as read from ``pixels`` ``(height, width, 3)``, with their boxes and the size scaled by
        ``scale`` (to the pixels of the image those were shrunk from); the colour is the median of the pixels in the
        lines' bounding box, where the background outnumbers the letters."""
        height, width = pixels.shape[:2]
        colour = ""
        if lines:
            left, top, right, bottom = enclosing([line.box for line in lines])
            colour = colour_name(np.median(pixels[top:bottom, left:right].reshape(-1, 3), axis=0))
        scaled = tuple(TextLine(line.text, line.confidence, tuple(round(v * scale) for v in line.box))
                       for line in lines)
        return cls(scaled, (round(width * scale), round(height * scale)), colour)

    @property
    def area(self) -> float:
        """The share of the image inside the lines' bounding box."""
        if not self.lines:
            return 0.0
        left, top, right, bottom = enclosing([line.box for line in self.lines])
        return (right - left) * (bottom - top) / max(self.size[0] * self.size[1], 1)

    def title(self) -> TextLine | None:
        """The first line, where it is taller than the rest by TITLE_HEIGHT and there are others."""
        if len(self.lines) < 2:
            return None
        heights = [line.box[3] - line.box[1] for line in self.lines]
        return self.lines[0] if heights[0] >= TITLE_HEIGHT * float(np.median(heights[1:])) else None

    def alt_text(self, described: str, photo: bool, sign: bool) -> str:
        """The alt text with the text in it; ``described`` is what would be said without it (a sentence, "Maybe
        ...", "May be a sign.", or empty), ``photo`` whether the image is one, ``sign`` whether the ImageNet
        layer or the caption's guidance sees a sign."""
        if not photo:
            title = self.title()
            if title is not None:
                width, height = self.size
                what = "A slide" if SLIDE_ASPECT[0] <= width / height <= SLIDE_ASPECT[1] else "An image"
                return finish(f'{what} titled "{title.text}"', ': ', self.lines[1:])
            return finish("An image that says", " ", self.lines)
        if len(self.lines) >= PAGE_LINES and self.area >= SIGN_AREA:
            return finish("A page of text that says", " ", self.lines)
        if sign or self.area >= SIGN_AREA:
            colour = f"{self.colour} " if self.colour else ""
            return finish(f"A {colour}sign that says", " ", self.lines)
        if not described:
            return finish("An image with the words", " ", self.lines)
        return finish(described.rstrip("."), " with the words ", self.lines)


def finish(start: str, joint: str, lines) -> str:
    """``start``, ``joint`` and the lines quoted, as a sentence; a quote cut short says so."""
    quote, shortened = quoted(lines)
    return f'{start}{joint}"{quote}"' + (" (text shortened)." if shortened else ".")


def quoted(lines) -> tuple[str, bool]:
    """The lines as one quote, cut at a word past LONGEST_QUOTE characters (with "..."); and whether it was cut.
    A line runs on into the next with a space where the next goes on lower case, or both are capitals (a sign's
    "NO" / "PARKING"); elsewhere it ends as a sentence ("ROAD CLOSED. Use the north entrance")."""
    texts = [line.text.strip() for line in lines if line.text.strip()]
    joined = texts[0] if texts else ""
    for before, text in zip(texts, texts[1:]):
        runs_on = text[0].islower() or (before.isupper() and text.isupper()) or before[-1] in ".!?:;,-"
        joined += (" " if runs_on else ". ") + text
    if len(joined) <= LONGEST_QUOTE:
        return joined, False
    cut = joined[:LONGEST_QUOTE].rsplit(" ", 1)[0].rstrip(".,;:")
    return cut + "...", True

"""Images of text, made here with Pillow and Debian's fonts: the set the text reader is measured on.

What people need alt text for that holds words: signs, slides, screenshots, photos with a caption over them, signs
within photos. Each image comes with the lines it says, in reading order, so the reader's character error rate can
be counted. Fonts are DejaVu and Liberation (Debian's fonts-dejavu-core and fonts-liberation; CI installs them), in
regular, bold, serif, monospace and narrow cuts; sizes, colours, words, slants and backgrounds vary with the seed.
The words are drawn from a fixed list of everyday English ones, with numbers and times among them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
         "DejaVuSerif-Bold.ttf", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf",
         "LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationMono-Regular.ttf",
         "LiberationSansNarrow-Bold.ttf")
WORDS = ("road closed use the north entrance quarterly review meeting notes open monday to friday exit only no "
         "parking station platform welcome to the garden cafe coffee tea menu today special fresh bread keep left "
         "danger high voltage library opening hours sale summer team project plan budget results next steps agenda "
         "please wait here tickets information way out toilets lift stairs floor room city centre museum park "
         "beach closed for repairs thank you visitors car wash hospital school bus stop fire door keep shut "
         "morning evening news market street bridge river north south east west office account report").split()
EXTRAS = ("10:30", "2024", "No. 7", "£4.50", "24/7", "A12", "3rd", "50%", "9am", "Q3")
SIGN_COLOURS = (((200, 30, 30), (255, 255, 255)), ((20, 90, 40), (255, 255, 255)), ((250, 210, 30), (20, 20, 20)),
                ((20, 50, 140), (255, 255, 255)), ((255, 255, 255), (20, 20, 20)), ((30, 30, 30), (250, 250, 250)))
KINDS = ("sign", "slide", "screenshot", "caption", "scene")


@dataclass(frozen=True)
class TextImage:
    name: str
    kind: str  # sign, slide, screenshot, caption (words over a photo), scene (a sign or a screen within a photo)
    lines: tuple[str, ...]  # what it says, top to bottom
    image: Image.Image


def fonts_present() -> bool:
    return all(font_path(name).is_file() for name in FONTS)


def font_path(name: str) -> Path:
    return next((folder / name for folder in FONT_FOLDERS if (folder / name).is_file()), FONT_FOLDERS[0] / name)


def text_images(seed: int = 0, per_kind: int = 30, photos: list[Path] | None = None) -> list[TextImage]:
    """``per_kind`` images of each kind; ``photos`` are the backgrounds of the captions and scenes (a plain colour
    without)."""
    rng = np.random.default_rng(seed)
    made = []
    for kind in KINDS:
        for i in range(per_kind):
            in_photo = photos and kind in ("caption", "scene")
            background = Image.open(photos[i % len(photos)]).convert("RGB") if in_photo else None
            lines, image = MAKERS[kind](rng, background)
            made.append(TextImage(f"{kind}-{i:02d}", kind, tuple(lines), image))
    return made


def phrase(rng: np.random.Generator, low: int, high: int) -> str:
    words = [str(rng.choice(WORDS)) for _ in range(int(rng.integers(low, high + 1)))]
    if rng.random() < 0.3:
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(EXTRAS)))
    style = rng.random()
    text = " ".join(words)
    return text.upper() if style < 0.3 else text.capitalize() if style < 0.8 else text.title()


def font(rng: np.random.Generator, size: int, names: tuple[str, ...] = FONTS) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(str(rng.choice(names)))), size)


def sign(rng, _background) -> tuple[list[str], Image.Image]:
    """One to three short lines, large and bold-ish, on a coloured board; a slight slant on some."""
    colour, ink = SIGN_COLOURS[int(rng.integers(len(SIGN_COLOURS)))]
    lines = [phrase(rng, 1, 3) for _ in range(int(rng.integers(1, 4)))]
    face = font(rng, int(rng.integers(36, 80)))
    width = int(max(face.getlength(line) for line in lines)) + 80
    height = len(lines) * int(face.size * 1.4) + 60
    board = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(board)
    for row, line in enumerate(lines):
        draw.text((40, 30 + row * int(face.size * 1.4)), line, font=face, fill=ink)
    scene = Image.new("RGB", (width + int(rng.integers(40, 300)), height + int(rng.integers(40, 300))),
                      tuple(int(c) for c in rng.integers(60, 200, 3)))
    at = (int(rng.integers(10, scene.width - width + 1)), int(rng.integers(10, scene.height - height + 1)))
    scene.paste(board, at)
    angle = float(rng.uniform(-4, 4)) if rng.random() < 0.4 else 0.0
    return lines, scene.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=scene.getpixel((0, 0)))


def slide(rng, _background) -> tuple[list[str], Image.Image]:
    """A title and two to four bullet-less lines on a light or dark 16:9 slide."""
    dark = rng.random() < 0.3
    paper, ink = ((25, 30, 45), (240, 240, 240)) if dark else ((255, 255, 255), (30, 30, 30))
    image = Image.new("RGB", (1280, 720), paper)
    draw = ImageDraw.Draw(image)
    title = phrase(rng, 2, 4)
    lines = [title] + [phrase(rng, 3, 7) for _ in range(int(rng.integers(2, 5)))]
    draw.text((80, 60), title, font=font(rng, int(rng.integers(48, 72))), fill=ink)
    body = font(rng, int(rng.integers(28, 40)))
    for row, line in enumerate(lines[1:]):
        draw.text((100, 220 + row * int(body.size * 1.8)), line, font=body, fill=ink)
    return lines, image


def screenshot(rng, _background) -> tuple[list[str], Image.Image]:
    """A window of small text lines, as notes or a document in an editor."""
    image = Image.new("RGB", (int(rng.integers(800, 1400)), int(rng.integers(500, 800))), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 36), fill=(220, 222, 228))
    face = font(rng, int(rng.integers(15, 22)))
    lines = []
    for row in range(int(rng.integers(4, 12))):
        y = 60 + row * int(face.size * 1.7)
        if y + face.size > image.height - 20:
            break
        line = phrase(rng, 3, 9)
        if face.getlength(line) > image.width - 60:
            continue
        lines.append(line)
        draw.text((30, y), line, font=face, fill=(30, 30, 30))
    return lines, image


def caption(rng, background) -> tuple[list[str], Image.Image]:
    """Words over a photo, white with a dark outline (a meme's or a poster's), top or bottom."""
    image = (background or Image.new("RGB", (800, 600), (90, 120, 150))).resize((800, 600))
    draw = ImageDraw.Draw(image)
    line = phrase(rng, 2, 4).upper()
    face = font(rng, int(rng.integers(40, 64)), ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"))
    while face.getlength(line) > image.width - 40:
        face = ImageFont.truetype(face.path, int(face.size * 0.85))
    x = (image.width - face.getlength(line)) / 2
    y = 30 if rng.random() < 0.5 else image.height - face.size - 50
    draw.text((x, y), line, font=face, fill=(255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0))
    return [line], image


def scene(rng, background) -> tuple[list[str], Image.Image]:
    """A sign within a photo, shrunk to between a third and four fifths of its size (its words 12 pixels high or
    more, still legible), somewhere in it."""
    photo = (background or Image.new("RGB", (800, 600), (110, 130, 90))).resize((800, 600))
    lines, board = sign(rng, None)
    scale = min(rng.uniform(0.35, 0.8), 0.9 * photo.width / board.width, 0.9 * photo.height / board.height)
    board = board.resize((max(1, round(board.width * scale)), max(1, round(board.height * scale))), Image.LANCZOS)
    photo.paste(board, (int(rng.integers(0, photo.width - board.width + 1)),
                        int(rng.integers(0, photo.height - board.height + 1))))
    return lines, photo


MAKERS = {"sign": sign, "slide": slide, "screenshot": screenshot, "caption": caption, "scene": scene}


def encoder_pixels(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """What the encoder gets for a made image served as a PNG upload (``captioner.images.load_rgb``)."""
    from captioner.images import load_rgb

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return load_rgb(buffer.getvalue(), size)


def text_uploads(count: int, photos: list[Path] | None = None, seed: int = 0) -> list[bytes]:
    """``count`` images of text (the kinds in turn) as PNG uploads."""
    made = text_images(seed, -(-count // len(KINDS)), photos)
    uploads = []
    for image in made[:: max(1, len(made) // count)][:count]:
        buffer = io.BytesIO()
        image.image.save(buffer, "PNG")
        uploads.append(buffer.getvalue())
    return uploads

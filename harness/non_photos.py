"""Images that are not photos, made here with Pillow: the set the "not a photo" rules are chosen on and tested with.

Every kind a user might upload for alt text that is not a photograph: plain and near-plain colours, gradients,
noise, charts, screenshots and slides, drawings and icons, shapes on a transparent background, and images too
small to show anything. Sizes, colours and content vary with the seed, so one seed chooses the rules and another
checks them. Nothing is read from disk (fonts are Pillow's own), so the set is the same on every machine.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# The plain colours a description names (harness-side list: the rules name colours their own way).
PALETTE = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "red": (210, 30, 30),
           "green": (40, 160, 60), "blue": (30, 60, 200), "yellow": (240, 220, 40), "orange": (240, 140, 20),
           "purple": (120, 40, 160), "pink": (240, 150, 190), "brown": (120, 70, 30), "navy": (20, 30, 90),
           "teal": (20, 130, 130), "beige": (225, 210, 180)}
SIZES = ((640, 480), (800, 600), (1024, 768), (500, 500), (1280, 720), (300, 400), (1920, 1080), (240, 320))


@dataclass(frozen=True)
class NonPhoto:
    name: str
    kind: str  # plain, near-plain, gradient, noise, chart, screenshot, slide, drawing, icon, transparent, tiny
    image: Image.Image

    def encoded(self, form: str | None = None) -> bytes:
        """The image as an upload: PNG (kept lossless, as such images usually are), or ``form`` ("JPEG")."""
        buffer = io.BytesIO()
        form = form or "PNG"
        image = self.image.convert("RGB") if form == "JPEG" else self.image
        image.save(buffer, form, **({"quality": 90} if form == "JPEG" else {}))
        return buffer.getvalue()


def non_photos(seed: int = 0, per_kind: int = 6) -> list[NonPhoto]:
    """``per_kind`` images of each kind, varied by ``seed``."""
    rng = np.random.default_rng(seed)
    made = []
    for kind, maker in MAKERS.items():
        for i in range(per_kind):
            made.append(NonPhoto(f"{kind}-{seed}-{i}", kind, maker(rng)))
    return made


def _size(rng) -> tuple[int, int]:
    return SIZES[rng.integers(len(SIZES))]


def _colour(rng, avoid: tuple | None = None) -> tuple[int, int, int]:
    names = list(PALETTE)
    while True:
        colour = PALETTE[names[rng.integers(len(names))]]
        if colour != avoid:
            return colour


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def plain(rng) -> Image.Image:
    return Image.new("RGB", _size(rng), _colour(rng))


def near_plain(rng) -> Image.Image:
    """A plain colour with a little sensor-like noise, or a faint vignette."""
    width, height = _size(rng)
    base = np.array(_colour(rng), np.float32)
    noise = rng.normal(0, rng.uniform(1, 4), (height, width, 1))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def gradient(rng) -> Image.Image:
    width, height = _size(rng)
    start, end = np.array(_colour(rng), np.float32), None
    end = np.array(_colour(rng, avoid=tuple(start.astype(int))), np.float32)
    y, x = np.mgrid[0:height, 0:width]
    if rng.random() < 0.3:  # radial
        t = np.hypot(x - width / 2, y - height / 2) / math.hypot(width / 2, height / 2)
    else:
        angle = rng.uniform(0, math.pi)
        t = (x * math.cos(angle) + y * math.sin(angle))
        t = (t - t.min()) / max(t.max() - t.min(), 1)
    pixels = start + (end - start) * t[..., None]
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def noise(rng) -> Image.Image:
    width, height = _size(rng)
    choice = rng.integers(4)
    if choice == 0:  # uniform colour noise
        pixels = rng.integers(0, 256, (height, width, 3))
    elif choice == 1:  # grey Gaussian noise
        pixels = np.repeat(rng.normal(128, 60, (height, width, 1)), 3, axis=2)
    elif choice == 2:  # salt and pepper on a colour
        pixels = np.full((height, width, 3), _colour(rng), float)
        mask = rng.random((height, width))
        pixels[mask < 0.1] = 0
        pixels[mask > 0.9] = 255
    else:  # blocky noise, as a QR-like or pixel-art texture
        cells = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3))
        pixels = np.kron(cells, np.ones((16, 16, 1)))[:height, :width]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def chart(rng) -> Image.Image:
    width, height = _size(rng)
    background = (255, 255, 255) if rng.random() < 0.8 else (30, 30, 35)
    ink = (0, 0, 0) if background[0] > 128 else (230, 230, 230)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    left, bottom, top, right = int(width * 0.12), int(height * 0.85), int(height * 0.12), int(width * 0.95)
    font = _font(max(10, height // 30))
    draw.text((width * 0.3, height * 0.03), rng.choice(["Sales by quarter", "Revenue", "Users per month",
                                                       "Temperature", "Results"]), fill=ink, font=font)
    style = rng.integers(4)
    if style == 3:  # pie
        box = (width * 0.25, height * 0.15, width * 0.25 + height * 0.7, height * 0.85)
        shares = rng.dirichlet(np.ones(rng.integers(3, 7))) * 360
        angle = 0.0
        for share in shares:
            draw.pieslice(box, angle, angle + share, fill=_colour(rng), outline=ink)
            angle += share
        return image
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=ink, width=2)
    for k in range(5):
        y = bottom - (bottom - top) * k / 4
        draw.line([(left - 5, y), (left, y)], fill=ink)
        draw.text((left - 40, y - 6), str(k * 25), fill=ink, font=_font(max(9, height // 45)))
    values = rng.uniform(0.1, 1.0, rng.integers(4, 12))
    step = (right - left) / len(values)
    if style == 0:  # bars
        colour = _colour(rng, avoid=background)
        for k, value in enumerate(values):
            x0 = left + k * step + step * 0.15
            draw.rectangle([x0, bottom - value * (bottom - top), x0 + step * 0.7, bottom], fill=colour)
    else:  # lines or scatter
        for series in range(rng.integers(1, 4)):
            colour = _colour(rng, avoid=background)
            points = [(left + (k + 0.5) * step, bottom - v * (bottom - top))
                      for k, v in enumerate(rng.uniform(0.1, 1.0, len(values)))]
            if style == 1:
                draw.line(points, fill=colour, width=3)
            for x, y in points:
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
    return image


WORDS = ("the model writes a caption for each photo and the page shows it with a button to copy def main return "
         "import numpy as np for item in items if value is None print result class Config settings path open "
         "meeting notes agenda action items next steps budget review deadline project status").split()


def _lines(rng, count: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, rng.integers(2, 9))) for _ in range(count)]


def screenshot(rng) -> Image.Image:
    """A text editor, a terminal or a web page: bars, panes and lines of text."""
    width, height = _size(rng)
    dark = rng.random() < 0.5
    background, ink = ((30, 30, 30), (220, 220, 220)) if dark else ((255, 255, 255), (20, 20, 20))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    bar = (60, 60, 65) if dark else (230, 230, 235)
    draw.rectangle([0, 0, width, height * 0.06], fill=bar)
    for k in range(3):
        draw.ellipse([10 + 18 * k, 8, 22 + 18 * k, 20], fill=[(230, 80, 70), (240, 190, 50), (90, 200, 90)][k])
    if rng.random() < 0.5:  # a side pane
        draw.rectangle([0, height * 0.06, width * 0.2, height], fill=bar)
        for k, line in enumerate(_lines(rng, 12)):
            draw.text((8, height * 0.08 + k * 18), line[:16], fill=ink, font=_font(12))
        left = width * 0.22
    else:
        left = 12
    size = int(rng.integers(11, 18))
    for k, line in enumerate(_lines(rng, int(height * 0.9 // (size + 6)))):
        colour = ink if rng.random() < 0.7 else _colour(rng, avoid=background)
        draw.text((left + (16 * rng.integers(0, 3)), height * 0.08 + k * (size + 6)), line, fill=colour,
                  font=_font(size))
    if rng.random() < 0.4:  # a button
        draw.rounded_rectangle([width * 0.7, height * 0.85, width * 0.9, height * 0.93], 8, fill=(40, 110, 220))
        draw.text((width * 0.73, height * 0.87), "Submit", fill=(255, 255, 255), font=_font(14))
    return image


def slide(rng) -> Image.Image:
    width, height = (1280, 720) if rng.random() < 0.7 else (1024, 768)
    background = _colour(rng) if rng.random() < 0.3 else (255, 255, 255)
    ink = (255, 255, 255) if sum(background) < 300 else (20, 20, 20)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    draw.text((width * 0.08, height * 0.1), rng.choice(["Quarterly review", "Agenda", "Next steps", "Results",
                                                         "Thank you", "Introduction"]), fill=ink, font=_font(56))
    for k, line in enumerate(_lines(rng, int(rng.integers(0, 6)))):
        draw.text((width * 0.1, height * 0.32 + k * 60), "- " + line, fill=ink, font=_font(32))
    return image


def drawing(rng) -> Image.Image:
    """Flat shapes and strokes: a stick figure, a smiling face, a house, a sun, or abstract shapes."""
    width, height = _size(rng)
    image = Image.new("RGB", (width, height), (255, 255, 255) if rng.random() < 0.7 else _colour(rng))
    draw = ImageDraw.Draw(image)
    ink = (0, 0, 0)
    cx, cy, s = width / 2, height / 2, min(width, height) / 4
    subject = rng.integers(4)
    if subject == 0:  # a stick figure
        draw.ellipse([cx - s / 4, cy - s * 1.3, cx + s / 4, cy - s * 0.8], outline=ink, width=4)
        draw.line([(cx, cy - s * 0.8), (cx, cy + s * 0.3)], fill=ink, width=4)
        draw.line([(cx - s / 2, cy - s / 2), (cx + s / 2, cy - s / 2)], fill=ink, width=4)
        draw.line([(cx, cy + s * 0.3), (cx - s / 3, cy + s)], fill=ink, width=4)
        draw.line([(cx, cy + s * 0.3), (cx + s / 3, cy + s)], fill=ink, width=4)
    elif subject == 1:  # a smiling face
        draw.ellipse([cx - s, cy - s, cx + s, cy + s], fill=(250, 210, 60), outline=ink, width=4)
        draw.ellipse([cx - s / 2, cy - s / 3, cx - s / 4, cy], fill=ink)
        draw.ellipse([cx + s / 4, cy - s / 3, cx + s / 2, cy], fill=ink)
        draw.arc([cx - s / 2, cy - s / 4, cx + s / 2, cy + s / 2], 20, 160, fill=ink, width=5)
    elif subject == 2:  # a house under a sun
        draw.rectangle([cx - s, cy - s / 3, cx + s, cy + s], fill=_colour(rng), outline=ink, width=3)
        draw.polygon([(cx - s * 1.2, cy - s / 3), (cx, cy - s * 1.3), (cx + s * 1.2, cy - s / 3)], fill=(180, 40, 40))
        draw.ellipse([width * 0.8, height * 0.05, width * 0.8 + s / 2, height * 0.05 + s / 2], fill=(250, 200, 0))
    else:  # abstract shapes
        for _ in range(rng.integers(3, 12)):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(10, s)
            shape = [x - r, y - r, x + r, y + r]
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(shape, fill=_colour(rng), outline=ink)
    return image


def icon(rng) -> Image.Image:
    """A small flat logo or icon: a rounded square with a letter or a glyph."""
    side = int(rng.choice([64, 96, 128, 192, 256, 512]))
    image = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([side * 0.08, side * 0.08, side * 0.92, side * 0.92], side // 6, fill=_colour(rng))
    draw.text((side * 0.32, side * 0.22), str(rng.choice(list("ABCDEFGHKMPRSTWX"))), fill=(255, 255, 255),
              font=_font(int(side * 0.5)))
    return image


def transparent(rng) -> Image.Image:
    """A coloured shape on a fully transparent background (an RGBA PNG, as logos and stickers come)."""
    width, height = _size(rng)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = min(width, height) / 3
    box = [width / 2 - s, height / 2 - s, width / 2 + s, height / 2 + s]
    (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=(*_colour(rng), 255))
    return image


def tiny(rng) -> Image.Image:
    """Images too small to show anything: a few pixels of colour or noise."""
    side = int(rng.choice([1, 2, 4, 8, 10, 16]))
    if rng.random() < 0.5:
        return Image.new("RGB", (side, side), _colour(rng))
    return Image.fromarray(rng.integers(0, 256, (side, side, 3)).astype(np.uint8))


MAKERS = {"plain": plain, "near-plain": near_plain, "gradient": gradient, "noise": noise, "chart": chart,
          "screenshot": screenshot, "slide": slide, "drawing": drawing, "icon": icon, "transparent": transparent,
          "tiny": tiny}

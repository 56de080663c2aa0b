"""Uploads a hostile or careless client sends, built here from scratch (no files are committed).

``VALID`` are images in every form the app accepts; ``INVALID`` the bytes it must refuse, each with the
words its error must contain. ``multipart`` writes a request body by hand, so a test controls what no
HTTP library would send: raw control characters in a file name, a missing part content type, a
malformed body.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image


def scene(size=(160, 120)) -> Image.Image:
    """A photo-like RGB image: a gradient with a few blocks, so every codec has something to compress."""
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 255, width), np.linspace(0, 255, height))
    pixels = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    pixels[height // 4:height // 2, width // 4:width // 2] = (200, 30, 30)
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(size=(160, 120)) -> bytes:
    return encode(scene(size), "JPEG", quality=90)


def png(size=(160, 120)) -> bytes:
    return encode(scene(size), "PNG")


# The largest photo the API accepts (captioner.images.MAX_PIXELS), in a 4:3 camera's shape.
LARGEST_PHOTO_SIZE = (7300, 5475)


def large_photos(photo: bytes) -> list[bytes]:
    """``photo`` blown up to the largest size accepted, as a JPEG and as a PNG, each under the app's default
    byte limit: the JPEG decodes at a reduced scale (libjpeg's draft mode), the PNG only in full (120 MB of
    pixels), the worst a photo costs a worker's memory."""
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    large = image.resize(LARGEST_PHOTO_SIZE, Image.BICUBIC)
    # A PNG of a photo that size is ~60 MB; blocks of one colour (nearest-neighbour upscaling) compress well.
    blocky = image.resize(LARGEST_PHOTO_SIZE, Image.NEAREST)
    return [encode(large, "JPEG", quality=85), encode(blocky, "PNG", optimize=False, compress_level=9)]


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    return encode(scene((160, 90)), "JPEG", exif=exif.tobytes())


def heif(image: Image.Image, **options) -> bytes:
    """HEIC, as iPhones save photos (through the pillow-heif plugin the app registers for it)."""
    from captioner.images import read_heif

    read_heif()
    return encode(image, "HEIF", **options)


def exif_rotated(fmt: str) -> bytes:
    """An AVIF keeps the EXIF orientation; pillow-heif turns it into the HEIF's own rotation."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image = scene((160, 90))
    return heif(image, exif=exif.tobytes()) if fmt == "HEIF" else encode(image, fmt, exif=exif.tobytes())


@functools.cache
def avif_bomb() -> bytes:
    """42 megapixels of one colour: an AVIF of 1.4 KB."""
    return encode(Image.new("RGB", (7000, 6000), (200, 30, 30)), "AVIF", speed=10, quality=10)


def heif_claiming_a_bomb() -> bytes:
    """A 64x64 HEIC whose header (its ispe box) claims 20000x20000 pixels."""
    data = bytearray(heif(Image.new("RGB", (64, 64), (200, 30, 30))))
    at = data.find(b"ispe")
    data[at + 8:at + 16] = struct.pack(">II", 20000, 20000)
    return bytes(data)


def animated_gif() -> bytes:
    frames = [scene().rotate(angle) for angle in (0, 90, 180)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png() -> bytes:
    ramp = (np.linspace(0, 65535, 120 * 160).reshape(120, 160)).astype(np.uint16)
    return encode(Image.fromarray(ramp), "PNG")  # a uint16 array is mode I;16


def palette_png(transparent: bool = False) -> bytes:
    image = scene().convert("P", palette=Image.ADAPTIVE, colors=16)
    return encode(image, "PNG", **({"transparency": 0} if transparent else {}))


VALID = {
    "jpeg": jpeg,
    "progressive-jpeg": lambda: encode(scene(), "JPEG", progressive=True),
    "png": png,
    "32x32-jpeg": lambda: jpeg((32, 32)),  # the smallest image described (captioner.images.MIN_SIDE)
    "wide-4000x32": lambda: png((4000, 32)),
    "tall-32x4000": lambda: png((32, 4000)),
    "16-bit-png": sixteen_bit_png,
    "grey-jpeg": lambda: encode(scene().convert("L"), "JPEG"),
    "palette-png": palette_png,
    "palette-transparent-png": lambda: palette_png(transparent=True),
    "alpha-png": lambda: encode(scene().convert("RGBA"), "PNG"),
    "grey-alpha-png": lambda: encode(scene().convert("LA"), "PNG"),
    "cmyk-jpeg": lambda: encode(scene().convert("CMYK"), "JPEG"),
    "exif-rotated-jpeg": exif_rotated_jpeg,
    "animated-gif": animated_gif,
    "webp": lambda: encode(scene(), "WEBP"),
    "bmp": lambda: encode(scene(), "BMP"),
    "tiff": lambda: encode(scene(), "TIFF"),
    "16-bit-tiff": lambda: encode(Image.open(io.BytesIO(sixteen_bit_png())), "TIFF"),
    "avif": lambda: encode(scene(), "AVIF"),
    "alpha-avif": lambda: encode(scene().convert("RGBA"), "AVIF"),
    "exif-rotated-avif": lambda: exif_rotated("AVIF"),
    "heic": lambda: heif(scene()),
    "alpha-heic": lambda: heif(scene().convert("RGBA")),
    "rotated-heic": lambda: exif_rotated("HEIF"),
    # Damage inside a JPEG's compressed data decodes to a smeared picture, as browsers show it: a caption.
    "jpeg-damaged-scan": lambda: flip_bytes(jpeg((320, 240)), start=len(jpeg((320, 240))) // 2, count=64),
}


def flip_bytes(data: bytes, start: int, count: int) -> bytes:
    damaged = bytearray(data)
    for i in range(start, start + count):
        damaged[i] ^= 0x5A
    return bytes(damaged)


def png_with_bad_checksum() -> bytes:
    data = bytearray(png())
    idat = data.find(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4:idat])
    data[idat + 4 + length] ^= 0xFF  # the first byte of IDAT's CRC
    return bytes(data)


def png_with_corrupt_data() -> bytes:
    """IDAT bytes garbled and its CRC recomputed, so only zlib can notice."""
    data = bytearray(png())
    idat = data.find(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4:idat])
    body = bytearray(data[idat + 4:idat + 4 + length])
    body[2:40] = b"\xff" * 38
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + bytes(body)))
    return bytes(data[:idat + 4] + body + crc + data[idat + 8 + length:])


def jpeg_with_broken_header() -> bytes:
    data = bytearray(jpeg())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = b"\x00\x00\x00\x00"  # zero height and width
    return bytes(data)


def bomb() -> bytes:
    return encode(Image.new("1", (10000, 10000)), "PNG")  # 100 megapixels in a few kilobytes


# bytes -> the words the 400 error must contain
INVALID = {
    "empty": (lambda: b"", "empty"),
    "text": (lambda: b"just some text, named photo.jpg", "not an image"),
    "html": (lambda: b"<!doctype html><html><body><script>alert(1)</script></body></html>", "not an image"),
    "svg-with-script": (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                        "not an image"),
    "random-bytes": (lambda: np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not an image"),
    "truncated-jpeg": (lambda: jpeg((400, 300))[:700], "truncated"),
    "jpeg-broken-header": (jpeg_with_broken_header, "corrupt"),
    "truncated-png": (lambda: png()[:len(png()) // 2], "truncated"),
    "png-corrupt-data": (png_with_corrupt_data, "corrupt"),
    "png-bad-checksum": (png_with_bad_checksum, "bad checksum"),
    "decompression-bomb": (bomb, "too large to decode"),
    "ico": (lambda: encode(Image.new("RGB", (16, 16)), "ICO"), "ICO images cannot be described"),
    "1x1-jpeg": (lambda: jpeg((1, 1)), "too small to describe"),
    "1x1-png": (lambda: png((1, 1)), "too small to describe"),
    "wide-4000x2": (lambda: png((4000, 2)), "too small to describe"),
    "tall-2x4000": (lambda: png((2, 4000)), "too small to describe"),
    "truncated-avif": (lambda: encode(scene((400, 300)), "AVIF")[:900], "corrupt"),
    "truncated-heic": (lambda: heif(scene((400, 300)))[:1500], "corrupt"),
    "avif-bomb": (avif_bomb, "too large to decode"),
    "heic-claiming-a-bomb": (heif_claiming_a_bomb, "too large to decode"),
}


def multipart(parts: list[tuple[str, bytes | None, bytes, str | None]], boundary: str = "hostile-boundary") -> bytes:
    """A multipart/form-data body from ``(field, raw file name or None, content, part content type or None)``.

    File names are raw bytes, written as they are: what a careless or hostile client can send.
    """
    body = b""
    for field, filename, content, content_type in parts:
        disposition = f'Content-Disposition: form-data; name="{field}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += f"--{boundary}\r\n".encode() + disposition + b"\r\n"
        if content_type is not None:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()

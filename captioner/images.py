"""Image bytes -> RGB pixels, one policy for training and serving.

Every photo goes through :func:`load_rgb`: the format is sniffed from the bytes (never the file name),
EXIF orientation is applied, grey/palette/alpha/CMYK/16-bit modes become 8-bit RGB (transparency is
laid on white), and the photo is made what the decoder was trained on: a Flickr8k copy in ``../shared``
(squashed to 224x224, JPEG), then resized to the encoder's square input. Squashing, not cropping, keeps
the copies' geometry, and the copy's own filter and compression keep their look (:func:`as_training_copy`).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import CaptionerError
from .io import heavy_work

# Pillow warns about damage it works around ("Corrupt EXIF data", ...): the photo decodes or ImageError says
# why not, so the warnings would only flood a server's log.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

# Formats users send (iPhones save HEIC, many Android phones and browsers AVIF); anything else PIL might open
# (EPS, ICNS, ...) is refused.
SUPPORTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF"}
FORMAT_NAMES = "JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF or HEIC"
# 40 megapixels covers any camera photo; a decompression bomb claims far more in a few bytes.
MAX_PIXELS = 40_000_000
# The smallest image worth describing: below 32 pixels a side a photo is a thumbnail of a thumbnail (an icon, a
# tracking pixel), and what the encoder sees of it is its blur. Captioning refuses smaller ones by name.
MIN_SIDE = 32
# Decoding more pixels than this takes a worker's memory far past its resting size (a 40-megapixel PNG: 511 MB at
# the peak, against 190 MB), so such decodes take turns across the server's workers.
LARGE_DECODE_PIXELS = 16_000_000
# What an error tells the person who sent a broken or oversized image to do.
SAVE_AGAIN = "open it in an image editor, save a new copy and send that."
SCALE_DOWN = "scale it down and send it again."
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# How the Flickr8k copies the decoder was trained on were made: squashed to 224x224 with Pillow's Hamming
# filter and saved as JPEG at quality 95 (their quantisation tables are libjpeg's at 95; of Pillow's filters
# Hamming came closest to them, 2.2 grey levels per pixel on the 16 full-size photos in ../shared/photos).
TRAINING_COPY_SIDE = 224
TRAINING_COPY_QUALITY = 95
# Modes whose pixel values Image.reduce can average as they are.
REDUCIBLE_MODES = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}
# How each supported format begins, to tell "corrupt PNG" from "not an image at all".
SIGNATURES = {
    b"\xff\xd8\xff": "JPEG", PNG_SIGNATURE: "PNG", b"GIF87a": "GIF", b"GIF89a": "GIF",
    b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
}
# AVIF and HEIF/HEIC are ISO base media files: an ftyp box first, whose major brand names the format.
AVIF_BRANDS = {b"avif", b"avis"}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# Chunks a PNG decoder cannot do without; like libpng, a bad checksum in one of them is an error.
PNG_CRITICAL_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


class ImageError(CaptionerError):
    """The bytes are not a usable image; the message says why."""

    code = "bad_image"


def load_rgb(source: bytes | str | os.PathLike, size: tuple[int, int], max_pixels: int = MAX_PIXELS,
             keep_aspect: bool = False, min_side: int = 1) -> np.ndarray:
    """Decode ``source`` (bytes or a path) into a ``uint8`` array of shape ``(height, width, 3)``.

    ``size`` is ``(height, width)``: the encoder's squashed input, or with ``keep_aspect`` the box the
    photo is scaled to fit in (a preview for people). An image narrower or lower than ``min_side`` pixels is
    refused (captioning asks for :data:`MIN_SIDE`).
    """
    image = open_image(source, max_pixels)
    if min(image.size) < min_side:
        raise ImageError(f"The image is too small to describe ({image.width}x{image.height} pixels): send one at "
                         f"least {min_side} pixels on each side.", code="too_small")
    return decode(image, size, keep_aspect)


def load_for_reading(source: bytes | str | os.PathLike, max_side: int,
                     max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, float]:
    """The image as a person sees it (upright, RGB), its longer side at most ``max_side`` (never enlarged), for
    reading its text; and how many of the original's pixels one of these spans (to give boxes in the original's)."""
    image = open_image(source, max_pixels)
    side = min(max_side, max(image.size))
    pixels = decode(image, (side, side), keep_aspect=True)
    return pixels, max(image.size) / max(pixels.shape[:2])


def decode(image: Image.Image, size: tuple[int, int], keep_aspect: bool = False) -> np.ndarray:
    """An opened image's pixels, as :func:`load_rgb` describes; an image over :data:`LARGE_DECODE_PIXELS` waits
    for the server-wide turn for heavy work (:func:`captioner.io.heavy_work`)."""
    if image.width * image.height > LARGE_DECODE_PIXELS:
        with heavy_work():
            return _decode(image, size, keep_aspect)
    return _decode(image, size, keep_aspect)


def _decode(image: Image.Image, size: tuple[int, int], keep_aspect: bool) -> np.ndarray:
    width, height = size[1], size[0]
    # A photo for the encoder is first made a training copy, so that is the size it must keep detail for.
    needed = (width, height) if keep_aspect else (TRAINING_COPY_SIDE,) * 2
    try:
        if image.format == "JPEG":
            # Let libjpeg decode at a reduced scale when the photo is much larger than needed.
            image.draft("RGB", needed)
        sixteen_bit = image.mode.startswith("I;16")
        ImageOps.exif_transpose(image, in_place=True)
        image = to_rgb(shrink_far_larger(image, max(needed)), sixteen_bit)
        if keep_aspect:
            scale = min(width / image.width, height / image.height)
            width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        else:
            image = as_training_copy(image)
        image = image.resize((width, height), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)
    # RuntimeError: Pillow's AVIF decoder ("Failed to decode frame 0: ..."), pillow-heif's; EOFError: pillow-heif
    # on image data that ends early ("Unexpected end of file").
    except (OSError, EOFError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError) as error:
        raise ImageError(f"The image data is corrupt or truncated ({_reason(error)}): {SAVE_AGAIN}",
                         code="corrupt_image") from None


def as_training_copy(image: Image.Image, resample: int = Image.HAMMING,
                     quality: int | None = TRAINING_COPY_QUALITY) -> Image.Image:
    """An RGB photo as the Flickr8k copies were made: squashed to 224x224 (Hamming), JPEG at quality 95.

    Serving a full-size photo straight at the encoder's size gave other features than its 224-pixel copy
    (relative distance 0.38 on the 16 full-size photos in ../shared/photos; the same caption for 9 of them);
    made a copy first, 0.10 and 13 of 16 (``experiments/skew_experiment.py``). A photo that already is 224x224,
    as every training photo is, is left as it is, so training features do not change. ``resample`` and
    ``quality`` (None: no JPEG) are there for that experiment, which tries the others.
    """
    side = TRAINING_COPY_SIDE
    if image.size == (side, side):
        return image
    image = image.resize((side, side), resample)
    if quality is None:
        return image
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).convert("RGB")


def load_in_batches(
    sources: Sequence[bytes | str | os.PathLike], size: tuple[int, int], batch_size: int, min_side: int = 1,
) -> Iterator[tuple[list[int], np.ndarray, dict[int, str]]]:
    """Decode photos in batches for an encoder: ``(indices of the good ones, their pixels, {index: error})``.

    Photos are decoded on a thread pool (Pillow releases the GIL), and the next batch is already being
    decoded while the caller encodes this one, so JPEG decoding and the encoder overlap.
    """

    def load(index: int) -> tuple[int, np.ndarray | None, str | None]:
        try:
            return index, load_rgb(sources[index], size, min_side=min_side), None
        except ImageError as error:
            return index, None, str(error)

    batches = [range(start, min(start + batch_size, len(sources))) for start in range(0, len(sources), batch_size)]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        pending = [pool.submit(load, i) for i in batches[0]] if batches else []
        for number in range(len(batches)):
            results = [future.result() for future in pending]
            if number + 1 < len(batches):
                pending = [pool.submit(load, i) for i in batches[number + 1]]
            good = [(i, pixels) for i, pixels, _ in results if pixels is not None]
            pixels = np.stack([px for _, px in good]) if good else np.zeros((0, *size, 3), np.uint8)
            yield [i for i, _ in good], pixels, {i: error for i, _, error in results if error is not None}


def open_image(source: bytes | str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and check an image without decoding its pixels yet."""
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError("The file is empty: choose the photo again.", code="empty_file")
        stream = io.BytesIO(source)
    else:
        try:
            stream = io.BytesIO(Path(source).read_bytes())
        except OSError as error:
            raise ImageError(f"Cannot read {source}: {error.strerror}.", code="unreadable_file") from None
        if not stream.getbuffer().nbytes:
            raise ImageError(f"{source} is empty.", code="empty_file")
    head = stream.getbuffer()[:16].tobytes()
    if head.startswith(PNG_SIGNATURE):
        check_png_chunks(stream.getbuffer())
    if sniff_format(head) == "HEIF":
        read_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        if isinstance(error, UnidentifiedImageError):
            claimed = sniff_format(head)
            if claimed:
                raise ImageError(f"The image data is corrupt (it starts like a {claimed} file but does not parse): "
                                 f"{SAVE_AGAIN}", code="corrupt_image") from None
            raise ImageError(f"This file is not an image: send a {FORMAT_NAMES} file.", code="not_an_image") from None
        raise ImageError(f"The image is too large to decode safely (limit {max_pixels:,} pixels): {SCALE_DOWN}",
                         code="too_many_pixels") from None
    except (OSError, EOFError, ValueError, SyntaxError, RuntimeError) as error:
        raise ImageError(f"The image data is corrupt ({_reason(error)}): {SAVE_AGAIN}", code="corrupt_image") from None
    if image.format not in SUPPORTED_FORMATS:
        raise ImageError(f"{image.format} images cannot be described here: save it as {FORMAT_NAMES} and send that.",
                         code="unsupported_format")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"The image is too large to decode safely: {width}x{height} pixels (limit {max_pixels:,}): {SCALE_DOWN}",
            code="too_many_pixels")
    return image


def sniff_format(head: bytes) -> str | None:
    """The supported format these first bytes announce, if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return "AVIF" if head[8:12] in AVIF_BRANDS else "HEIF" if head[8:12] in HEIF_BRANDS else None
    return next((name for magic, name in SIGNATURES.items() if head.startswith(magic)), None)


@functools.cache
def read_heif() -> None:
    """Pillow reads HEIF/HEIC through the pillow-heif plugin, registered when the first such photo comes
    (Pillow itself reads AVIF). It applies the photo's own rotation and resets its EXIF orientation, so
    ``exif_transpose`` does not turn it twice."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise ImageError("HEIC/HEIF photos need the pillow-heif package on the server (pip install pillow-heif); "
                         "until then, send the photo as JPEG.",
                         code="heic_not_installed") from None
    register_heif_opener()


def check_png_chunks(data: memoryview | bytes) -> None:
    """Walk a PNG's chunks: each complete, critical ones with a correct CRC, ending with IEND.

    Pillow checks no CRC of image data and decodes a PNG cut off after its last IDAT, so a damaged
    upload would get a caption of whatever survived; libpng (and this check) refuse it.
    """
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 8 + length + 4
        if end > len(data):
            break
        (recorded,) = struct.unpack(">I", data[end - 4:end])
        if kind in PNG_CRITICAL_CHUNKS and zlib.crc32(data[offset + 4:end - 4]) != recorded:
            name = kind.decode("latin-1")
            raise ImageError(f"The image data is corrupt (bad checksum in the PNG's {name} chunk): {SAVE_AGAIN}",
                             code="corrupt_image")
        if kind == b"IEND":
            return
        offset = end
    raise ImageError(f"The image data is corrupt or truncated (the PNG ends before its IEND chunk): {SAVE_AGAIN}",
                     code="corrupt_image")


def shrink_far_larger(image: Image.Image, side: int) -> Image.Image:
    """A photo whose shorter side is over 4x ``side``, shrunk by a whole factor (box averaging) to no less
    than twice ``side``, before any conversion copies it; smaller photos as they are.

    Converting a 40-megapixel RGBA PNG at full size took 2.7 s and 916 MB at its peak (each step a 160 MB
    copy); shrunk first, the decoded photo is the one large copy. This is Pillow's ``reducing_gap=2``: the
    resize that follows still has at least twice the pixels it needs, so the result looks the same.
    """
    factor = min(image.size) // (2 * side)
    if factor < 2:
        return image
    if image.mode not in REDUCIBLE_MODES:  # palette indices and single bits cannot be averaged
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("I" if image.mode.startswith("I;16") else "RGBA" if has_alpha else "RGB")
    return image.reduce(factor)


def to_rgb(image: Image.Image, sixteen_bit: bool = False) -> Image.Image:
    """8-bit RGB from any PIL mode; transparent areas become white, 16-bit values are scaled down
    (``sixteen_bit``: the photo was 16-bit before it was shrunk to 32-bit "I")."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if sixteen_bit or image.mode.startswith("I;16") or values.max() > 255 else 255.0
        return Image.fromarray(np.clip(values / peak * 255.0, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _reason(error: BaseException) -> str:
    return str(error).strip().rstrip(".") or type(error).__name__

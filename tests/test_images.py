"""Bytes -> RGB: every mode and orientation users send, and the files that must be refused."""

import io

import numpy as np
import pytest
from PIL import Image

from captioner.images import ImageError, load_rgb

SIZE = (32, 32)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def half_red_half_blue(width=40, height=20) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2:] = (0, 0, 255)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(Image.new("L", (50, 30), 128), "PNG"),
        lambda: encode(Image.new("RGB", (50, 30), (10, 200, 30)).convert("P", palette=Image.ADAPTIVE), "PNG"),
        lambda: encode(Image.new("RGBA", (50, 30), (10, 200, 30, 128)), "PNG"),
        lambda: encode(Image.new("CMYK", (50, 30), (0, 255, 255, 0)), "JPEG"),
        lambda: encode(Image.fromarray(np.full((30, 50), 40000, np.uint16)), "PNG"),
        lambda: encode(Image.new("RGB", (50, 30), (10, 200, 30)), "WEBP"),
        lambda: encode(Image.new("RGB", (50, 30), (10, 200, 30)), "BMP"),
        lambda: encode(Image.new("RGB", (50, 30), (10, 200, 30)), "TIFF"),
        lambda: encode(Image.new("1", (50, 30), 1), "GIF"),
    ],
    ids=["grey", "palette", "alpha", "cmyk", "16-bit", "webp", "bmp", "tiff", "gif"],
)
def test_every_mode_becomes_8_bit_rgb_of_the_requested_size(make):
    pixels = load_rgb(make(), SIZE)
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8


def test_sixteen_bit_values_are_scaled_not_clipped():
    data = encode(Image.fromarray(np.full((30, 50), 32768, np.uint16)), "PNG")
    assert 120 <= load_rgb(data, SIZE).mean() <= 135


def test_transparency_is_laid_on_white():
    data = encode(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), "PNG")
    assert load_rgb(data, SIZE).min() == 255


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encode(half_red_half_blue(), "JPEG", exif=exif, quality=95)
    pixels = load_rgb(data, SIZE)
    # Red was on the left; shown rotated clockwise it is on top.
    assert pixels[2, 16, 0] > 200 and pixels[-3, 16, 2] > 200


def heif(image: Image.Image, **options) -> bytes:
    from captioner.images import read_heif

    read_heif()  # the app's own registration of the pillow-heif plugin
    return encode(image, "HEIF", **options)


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_phone_formats_are_read_with_their_orientation_and_transparency(fmt):
    exif = Image.Exif()
    exif[0x0112] = 6
    save = (lambda image, **o: heif(image, quality=95, **o)) if fmt == "HEIF" else (
        lambda image, **o: encode(image, "AVIF", quality=95, **o))
    rotated = load_rgb(save(half_red_half_blue(), exif=exif.tobytes()), (40, 40), keep_aspect=True)
    assert rotated.shape == (40, 20, 3)  # 40x20 shown turned: 20 wide, 40 tall
    assert rotated[2, 10, 0] > 180 and rotated[-3, 10, 2] > 180  # red on top, as for a JPEG
    clear = load_rgb(save(Image.new("RGBA", (20, 20), (0, 0, 0, 0))), SIZE)
    assert clear.min() >= 250  # laid on white (lossy coding may leave a level or two)


def test_a_heic_that_claims_too_many_pixels_is_refused_before_decoding():
    import struct

    data = bytearray(heif(Image.new("RGB", (64, 64), (200, 30, 30))))
    at = data.find(b"ispe")
    data[at + 8:at + 16] = struct.pack(">II", 20000, 20000)
    with pytest.raises(ImageError, match="too large to decode safely"):
        load_rgb(bytes(data), SIZE)


def large(mode: str, size=(400, 300)) -> Image.Image:
    """A photo-like image over 4x the 32-pixel SIZE on its shorter side, in ``mode``."""
    x, y = np.meshgrid(np.linspace(0, 255, size[0]), np.linspace(0, 255, size[1]))
    pixels = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    pixels[::7, ::5] = (250, 250, 250)  # fine detail, which a plain resize would alias
    image = Image.fromarray(pixels)
    if mode == "RGBA":
        image.putalpha(Image.fromarray((np.arange(size[0]) * 255 // size[0]).astype(np.uint8)[None].repeat(size[1], 0)))
    elif mode == "P":
        image = image.quantize(64)
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    return image


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "I;16"])
def test_a_photo_far_larger_than_needed_is_shrunk_first_to_nearly_the_same_pixels(mode):
    from captioner.images import shrink_far_larger, to_rgb

    image = large(mode)
    direct = np.asarray(to_rgb(image).resize(SIZE, Image.BILINEAR), dtype=float)
    shrunk = shrink_far_larger(image, max(SIZE))
    assert min(shrunk.size) >= 2 * max(SIZE) and shrunk.size < image.size
    ours = load_rgb(encode(image, "PNG"), SIZE).astype(float)
    assert np.abs(ours - direct).mean() < 3  # of 255: the same picture, its fine detail averaged not aliased


def test_a_photo_under_four_times_the_size_is_not_shrunk():
    from captioner.images import shrink_far_larger

    image = large("RGB", size=(4 * 32 + 20, 4 * 32 - 1))
    assert shrink_far_larger(image, 32) is image


def test_photos_are_squashed_not_cropped():
    pixels = load_rgb(encode(half_red_half_blue(80, 20), "PNG"), SIZE)
    assert pixels[16, 2, 0] > 200 and pixels[16, -3, 2] > 200


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, this is text", "not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
    ],
)
def test_non_images_are_refused_with_a_reason(data, message):
    with pytest.raises(ImageError, match=message):
        load_rgb(data, SIZE)


def test_a_truncated_jpeg_is_reported_as_corrupt():
    data = encode(Image.new("RGB", (200, 200), (10, 200, 30)), "JPEG")
    with pytest.raises(ImageError, match="corrupt|truncated"):
        load_rgb(data[: len(data) // 2], SIZE)


def test_an_unsupported_format_is_named():
    data = encode(Image.new("RGB", (20, 20)), "ICO")
    with pytest.raises(ImageError, match="ICO images cannot be described"):
        load_rgb(data, SIZE)


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = encode(Image.new("1", (12000, 12000)), "PNG")  # 144 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match="too large"):
        load_rgb(bomb, SIZE, max_pixels=40_000_000)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="Cannot read .*nope.jpg"):
        load_rgb(tmp_path / "nope.jpg", SIZE)


def test_real_photo_decodes(photos):
    pixels = load_rgb(photos[0], (224, 224))
    assert pixels.shape == (224, 224, 3) and 20 < pixels.mean() < 235


@pytest.mark.parametrize("batch_size", [1, 2, 3, 10])
def test_batches_keep_every_photo_in_order_and_name_the_unreadable_ones(batch_size):
    from captioner.images import load_in_batches

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    sources = [encode(Image.new("RGB", (9, 7), colour), "PNG") for colour in colours]
    sources[1], sources[4] = b"not an image", b"\x89PNG\r\n\x1a\n broken"
    seen_good, seen_errors = [], {}
    for good, pixels, errors in load_in_batches(sources, (4, 4), batch_size):
        assert len(good) == len(pixels) and pixels.shape[1:] == (4, 4, 3)
        for index, photo in zip(good, pixels):
            # within what the training copy's JPEG (quality 95) changes of a plain colour
            assert np.abs(photo[0, 0].astype(int) - colours[index]).max() <= 3, (photo[0, 0], colours[index])
        seen_good += good
        seen_errors.update(errors)
    assert seen_good == [0, 2, 3]
    assert sorted(seen_errors) == [1, 4] and all(seen_errors.values())


def test_a_full_size_photo_becomes_what_its_training_copy_is(photos, flickr8k_root):
    """Serving prepares a full-size photo as the Flickr8k copies were made (squashed to 224, JPEG q95), so its
    pixels at the encoder's size come far closer to its copy's than a straight resize does."""
    side = (260, 260)
    for photo in photos[:6]:
        copy = load_rgb(flickr8k_root / "Images" / photo.name, side).astype(float)
        straight = np.asarray(Image.open(photo).convert("RGB").resize(side, Image.BILINEAR), dtype=float)
        served = load_rgb(photo, side).astype(float)
        assert np.abs(served - copy).mean() < 0.7 * np.abs(straight - copy).mean(), photo.name


def test_a_photo_already_the_size_of_a_training_copy_is_not_compressed_again(flickr8k_root):
    name = sorted((flickr8k_root / "Images").glob("*.jpg"))[0]
    expected = np.asarray(Image.open(name).convert("RGB").resize((260, 260), Image.BILINEAR))
    np.testing.assert_array_equal(load_rgb(name, (260, 260)), expected)

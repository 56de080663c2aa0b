"""Reading the text in an image (captioner.reading): a rendered sign's words come back in order, a photo without
text gets none worth keeping, and the pieces (projection cuts, reading order, CTC, the error rate) do what they say.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from captioner import CaptionerError
from captioner.data import REPO_ROOT
from captioner.reading import TextReader
from captioner.reading.detection import projection_cuts, reading_order
from captioner.reading.recognition import ctc_decode
from captioner.reading.scoring import character_error_rate
from harness.text_images import font_path, fonts_present, text_images

# A test-split photo of a dog digging in sand: no text in it.
NO_TEXT_PHOTO = "1117972841_2b9261f95f.jpg"
needs_fonts = pytest.mark.skipif(not fonts_present(), reason="apt-get install fonts-dejavu-core fonts-liberation")


@pytest.fixture(scope="module")
def reader():
    return TextReader.from_folder(REPO_ROOT / "model")


def road_sign() -> Image.Image:
    """A red sign, two lines in white, on a grey wall."""
    scene = Image.new("RGB", (900, 500), (120, 124, 128))
    draw = ImageDraw.Draw(scene)
    draw.rectangle((120, 110, 780, 390), fill=(200, 30, 30))
    big = ImageFont.truetype(str(font_path("DejaVuSans-Bold.ttf")), 72)
    small = ImageFont.truetype(str(font_path("LiberationSans-Regular.ttf")), 40)
    draw.text((170, 150), "ROAD CLOSED", font=big, fill=(255, 255, 255))
    draw.text((170, 280), "Use the north entrance", font=small, fill=(255, 255, 255))
    return scene


@needs_fonts
def test_a_rendered_sign_is_read_line_by_line_in_order(reader):
    lines = reader.read(road_sign(), min_confidence=0.5)
    assert [line.text for line in lines] == ["ROAD CLOSED", "Use the north entrance"]
    assert all(0.5 <= line.confidence <= 1.0 for line in lines)
    (left, top, right, bottom), second = lines[0].box, lines[1].box
    assert 120 <= left < right <= 780 and 110 <= top < bottom <= second[1] + 10  # on the sign, the first above


def test_a_photo_without_text_gets_no_line_worth_keeping(reader, flickr8k_root):
    photo = Image.open(flickr8k_root / "Images" / NO_TEXT_PHOTO)
    assert reader.read(photo, min_confidence=0.5) == []


@needs_fonts
def test_slides_and_screenshots_are_read_almost_without_error(reader):
    made = [image for image in text_images(seed=1, per_kind=2) if image.kind in ("slide", "screenshot")]
    rates = [character_error_rate(" ".join(line.text for line in reader.read(image.image, 0.5)), " ".join(image.lines))
             for image in made]
    assert np.mean(rates) <= 0.05, rates


def test_a_damaged_model_file_is_an_error_that_names_it(tmp_path):
    for name in ("text_detector.onnx", "text_recogniser.onnx"):
        (tmp_path / name).write_bytes(b"not an ONNX file")
    with pytest.raises(CaptionerError, match="cannot load the text detector .*text_detector.onnx"):
        TextReader.from_folder(tmp_path)


def test_projection_cuts_find_lines_and_columns_but_keep_a_line_s_words_together():
    text = np.zeros((60, 200), bool)
    text[5:15, 10:40] = text[5:15, 44:90] = True  # one line, two words a small gap apart
    text[5:15, 150:190] = True  # a second column, far to the right
    text[30:40, 10:120] = True  # a second line
    boxes = sorted(projection_cuts(text))
    assert boxes == [(5, 10, 15, 90), (5, 150, 15, 190), (30, 10, 40, 120)]


def test_reading_order_groups_boxes_a_few_pixels_apart_in_height_into_one_line():
    boxes = [(300, 52, 400, 100), (10, 60, 120, 104), (150, 56, 260, 102), (10, 150, 200, 190)]  # (l, t, r, b)
    assert reading_order(boxes) == [[1, 2, 0], [3]]


def test_ctc_merges_repeats_and_drops_blanks():
    alphabet = ["", "a", "b", " "]
    columns = [1, 1, 0, 1, 2, 2, 0, 0, 3, 2]  # a a _ a b b _ _ " " b
    probabilities = np.full((len(columns), 4), 0.1, np.float32)
    probabilities[np.arange(len(columns)), columns] = 0.7
    assert ctc_decode(probabilities, alphabet) == ("aab b", pytest.approx(0.7))
    assert ctc_decode(np.eye(4, dtype=np.float32)[[0, 0]], alphabet) == ("", 0.0)


def test_the_error_rate_counts_letters_and_digits_only():
    assert character_error_rate("ROAD  CLOSED!", "ROAD CLOSED.") == 0.0
    assert character_error_rate("R0AD CLOSED", "ROAD CLOSED") == pytest.approx(1 / 10)
    assert character_error_rate("", "ABC") == 1.0
    assert character_error_rate("road", "ROAD") == 1.0  # case is kept

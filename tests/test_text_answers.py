"""The text read in an image reaches every answer: the API's ``text`` and alt text, the CLI's rows; photos without
text are not read at all; reading and large decodes take turns across a server's workers."""

from __future__ import annotations

import io
import multiprocessing

import numpy as np
import pytest
from PIL import Image

from captioner.alttext import LINE_SEPARATOR, Row
from captioner.data import REPO_ROOT
from captioner.io import HEAVY_WORK_LOCK, heavy_work
from captioner.reading import TextLine
from captioner.reading.spacing import restore_spaces, split_run
from captioner.reading.wording import LONGEST_QUOTE, FoundText, quoted
from harness.text_images import fonts_present

from .test_reading import NO_TEXT_PHOTO, road_sign

needs_fonts = pytest.mark.skipif(not fonts_present(), reason="apt-get install fonts-dejavu-core fonts-liberation")


@pytest.fixture(scope="module")
def shipped():
    from captioner.serving import Captioner

    return Captioner(REPO_ROOT / "model")


def encoded(image: Image.Image, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()


# --- what is read, and how the alt text says it ------------------------------------------------------------------


def test_runs_of_words_the_recogniser_ran_together_are_split_and_names_are_left_alone():
    assert restore_spaces("NOPARKING") == "NO PARKING"
    assert restore_spaces("AT ALLTIMES") == "AT ALL TIMES"
    assert restore_spaces("SportsCentre, 24/7") == "Sports Centre, 24/7"  # case kept, the rest untouched
    assert split_run("PROHIBITED") == ["PROHIBITED"]  # a word stays whole
    assert split_run("Wivenhoe") == ["Wivenhoe"] and split_run("Xqzvtrk") == ["Xqzvtrk"]  # no split into words
    assert split_run("Quarterlyreview") == ["Quarterly", "review"]


def line(text: str, top: int = 0, height: int = 40, left: int = 0, width: int = 400) -> TextLine:
    return TextLine(text, 0.95, (left, top, left + width, top + height))


def test_lines_are_quoted_as_sentences_and_long_text_is_cut_at_a_word():
    assert quoted([line("ROAD CLOSED"), line("Use the north entrance")]) == ("ROAD CLOSED. Use the north entrance",
                                                                             False)
    assert quoted([line("NO"), line("PARKING")]) == ("NO PARKING", False)  # a sign's capitals run on
    assert quoted([line("we found it useful"), line("to draw")]) == ("we found it useful to draw", False)
    text, shortened = quoted([line("many words " * 20)])
    assert shortened and text.endswith("...") and len(text) <= LONGEST_QUOTE + 3 and "many words many" in text


def test_the_alt_text_introduces_the_text_by_what_the_image_is():
    red = np.zeros((600, 800, 3), np.uint8)
    red[:] = (200, 30, 30)
    sign = FoundText.of(red, [line("ROAD CLOSED", 100, 100, 100, 600),
                              line("Use the north entrance", 250, 70, 100, 600)])
    assert sign.alt_text("A man in a red shirt.", True, False) == 'A red sign that says "ROAD CLOSED. Use the north ' \
                                                               'entrance".'
    assert sign.alt_text("", False, False) == 'A slide titled "ROAD CLOSED": "Use the north entrance".'
    over_a_photo = FoundText((line("MONDAY MORNING", 10, 50, 100, 600),), (800, 600), "white")
    assert over_a_photo.alt_text("A dog runs on the beach.", True, False) == \
        'A dog runs on the beach with the words "MONDAY MORNING".'
    assert over_a_photo.alt_text("", True, False) == 'An image with the words "MONDAY MORNING".'
    assert over_a_photo.alt_text("", True, True).startswith('A white sign that says')
    page = FoundText(tuple(line(f"line {i} of a long page of text", 40 * i, 30, 0, 790) for i in range(14)),
                     (800, 600), "white")
    assert page.alt_text("", True, False).startswith('A page of text that says "line 0 of a long page')
    assert page.alt_text("", True, False).endswith("(text shortened).")


# --- the served answer -----------------------------------------------------------------------------------------


@needs_fonts
def test_a_rendered_sign_reaches_the_answer_and_its_alt_text(shipped):
    answer = shipped.caption_image(encoded(road_sign()))
    body = answer.as_dict()
    assert body["text_looked_for"] and [t["text"] for t in body["text"]] == ["ROAD CLOSED", "Use the north entrance"]
    assert '"ROAD CLOSED. Use the north entrance"' in body["alt_text"] and "read by machine" in body["note"]
    assert all(0.8 <= t["confidence"] <= 1 and 0 <= t["box"][0] < t["box"][2] <= 900 for t in body["text"])
    assert body["timing_ms"]["read_text"] > 0


@needs_fonts
def test_boxes_are_in_the_uploaded_images_pixels_when_it_is_read_smaller(shipped):
    big = road_sign().resize((2700, 1500))  # read at 1600 pixels wide, answered in the upload's
    answer = shipped.caption_image(encoded(big, "JPEG"))
    left, top, right, bottom = answer.text_lines[0].box
    assert 360 <= left < right <= 2340 and 330 <= top < bottom <= 1170  # on the red board (120-780 x 3)


def test_a_photo_without_text_is_not_read(shipped, flickr8k_root):
    answer = shipped.caption_image((flickr8k_root / "Images" / NO_TEXT_PHOTO).read_bytes())
    assert answer.as_dict()["text"] == [] and not answer.as_dict()["text_looked_for"]
    assert answer.timing_ms["read_text"] < answer.timing_ms["encode"]  # the gate, not the reader


@needs_fonts
def test_the_cli_row_carries_the_text_in_one_cell(shipped, tmp_path):
    path = tmp_path / "sign.png"
    road_sign().save(path)
    (result,) = shipped.caption_sources([path])
    row = Row.of(str(path), result, "model")
    assert row.text == LINE_SEPARATOR.join(["ROAD CLOSED", "Use the north entrance"]) and "ROAD CLOSED" in row.alt_text


# --- taking turns across workers --------------------------------------------------------------------------------


def try_the_lock(folder: str, answers) -> None:
    import fcntl

    with open(f"{folder}/{HEAVY_WORK_LOCK}", "a+b") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            answers.put("got it")
        except BlockingIOError:
            answers.put("held elsewhere")


def test_heavy_work_holds_a_lock_other_processes_cannot_take_until_it_ends(tmp_path, monkeypatch):
    pytest.importorskip("fcntl")
    monkeypatch.setenv("CAPTIONER_LOCK_DIR", str(tmp_path))
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()

    def ask() -> str:
        process = context.Process(target=try_the_lock, args=(str(tmp_path), answers))
        process.start()
        process.join(60)
        return answers.get(timeout=5)

    with heavy_work():
        assert ask() == "held elsewhere"
    assert ask() == "got it"


@needs_fonts
def test_the_page_without_javascript_lists_the_text_under_the_alt_text():
    from app import create_app

    client = create_app({"MODEL_DIR": str(REPO_ROOT / "model"), "TESTING": True}).test_client()
    page = client.post("/", data={"image": (io.BytesIO(encoded(road_sign())), "sign.png")},
                       content_type="multipart/form-data").get_data(as_text=True)
    listed = page[page.index('id="text-lines"'):]
    assert "<span>ROAD CLOSED</span>" in listed and "<span>Use the north entrance</span>" in listed
    assert "&#34;ROAD CLOSED. Use the north entrance&#34;" in page  # the alt text box, escaped

"""Property-based fuzzing of the upload and decode path (hypothesis).

Inputs are valid and broken images of every supported format (harness/uploads.py), mutated: bytes
flipped, cut, inserted, spliced between formats. Whatever comes in, ``load_rgb`` returns the
encoder's pixels or raises ``ImageError``, and the app answers with a 2xx or 4xx JSON, never a 5xx.

CI runs a bounded number of examples (``FUZZ_EXAMPLES``, default 400 per property, about 10 s);
``FUZZ_EXAMPLES=5000 make test`` or ``pytest tests/test_fuzz.py`` with that variable runs longer. A failure
hypothesis finds is printed as its smallest input; add it below as an ``@example`` (the cases already
there came from such runs) so it stays a test.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from captioner.data import REPO_ROOT
from captioner.images import ImageError, load_for_reading, load_rgb
from harness.text_images import fonts_present
from harness.uploads import INVALID, VALID, multipart

# slow: it fuzzes for minutes (make test-fast leaves it out)
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 400))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)

SEEDS = [make() for make in VALID.values()] + [make() for make, _ in INVALID.values()]
SEEDS = [seed for seed in SEEDS if len(seed) < 200_000]  # small seeds keep every example fast


@st.composite
def mutated_images(draw, seeds: list[bytes] = SEEDS) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "overwrite", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 4096)):]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at:at + len(chunk)] = chunk
        else:
            other = draw(st.sampled_from(SEEDS))
            data = data[:at] + other[draw(st.integers(0, max(len(other) - 1, 0))):]
    return bytes(data)


def decodes_or_refuses(data: bytes) -> None:
    try:
        pixels = load_rgb(data, (48, 48))
    except ImageError as error:
        assert str(error)  # a message for the user, not an empty one
        return
    assert pixels.shape == (48, 48, 3) and pixels.dtype == np.uint8


def heic_with_a_byte_slipped_in(at: int = 373) -> bytes:
    """Found by CI: one zero byte inside a HEIC's image data makes pillow-heif raise EOFError."""
    data = VALID["heic"]()
    return data[:at] + b"\x00" + data[at:]


@FUZZ
@given(mutated_images())
@example(heic_with_a_byte_slipped_in())
def test_decoding_any_mutated_image_gives_pixels_or_an_image_error(data):
    decodes_or_refuses(data)


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\x89PNG\r\n\x1a\n")  # a PNG signature and nothing else
@example(b"BM")  # a BMP signature and nothing else
@example(b"RIFF\x00\x00\x00\x00WEBP")
def test_decoding_arbitrary_bytes_gives_pixels_or_an_image_error(data):
    decodes_or_refuses(data)


@pytest.fixture(scope="module")
def fuzz_client(app):
    return app.test_client()


@FUZZ
@given(image=mutated_images(), beam=st.one_of(st.none(), st.text(max_size=8)),
       filename=st.binary(max_size=40).filter(lambda name: b'"' not in name and b"\r" not in name and b"\n" not in name))
@example(image=VALID["png"](), beam="¹", filename=b"")  # found by a long run: "¹".isdigit() but int("¹") fails
def test_the_api_answers_any_upload_with_json_and_never_a_5xx(fuzz_client, image, beam, filename):
    parts = [("image", filename, image, "image/jpeg")]
    if beam is not None:
        parts.append(("beam", None, beam.encode(), None))
    response = fuzz_client.post("/api/caption", data=multipart(parts),
                                content_type="multipart/form-data; boundary=hostile-boundary")
    assert response.status_code in (200, 400, 413), response.get_data()[:300]
    body = response.get_json()
    assert ("caption" in body) if response.status_code == 200 else body["error"]


@FUZZ
@given(st.binary(max_size=4096))
def test_the_api_answers_any_multipart_body_with_json_and_never_a_5xx(fuzz_client, body):
    response = fuzz_client.post("/api/caption", data=io.BytesIO(body),
                                content_type="multipart/form-data; boundary=hostile-boundary")
    assert response.status_code in (200, 400, 413), response.get_data()[:300]
    assert response.get_json()


# --- the text reader's path: images of text, mutated, decoded again at the reader's size and read ----------------
# Each example reads an image (a third of a second), so this property runs an eighth as many.
READING_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 8, 10))


def text_seeds() -> list[bytes]:
    from .test_reading import road_sign

    sign = road_sign().resize((450, 250))
    seeds = []
    for kind in ("PNG", "JPEG", "WEBP"):
        buffer = io.BytesIO()
        sign.save(buffer, kind)
        seeds.append(buffer.getvalue())
    return seeds


TEXT_SEEDS = text_seeds() if fonts_present() else SEEDS[:1]


@pytest.fixture(scope="module")
def shipped_client():
    from app import create_app

    return create_app({"MODEL_DIR": str(REPO_ROOT / "model"), "TESTING": True}).test_client()


@READING_FUZZ
@given(image=mutated_images(TEXT_SEEDS))
def test_the_api_reads_any_mutated_image_of_text_or_refuses_it_with_json(shipped_client, image):
    response = shipped_client.post("/api/caption", data=multipart([("image", b"sign.png", image, "image/png")]),
                                   content_type="multipart/form-data; boundary=hostile-boundary")
    assert response.status_code in (200, 400), response.get_data()[:300]
    body = response.get_json()
    assert isinstance(body["text"], list) if response.status_code == 200 else body["error"]


@READING_FUZZ
@given(mutated_images(TEXT_SEEDS))
def test_decoding_any_mutated_image_of_text_for_reading_gives_pixels_or_an_image_error(data):
    try:
        pixels, scale = load_for_reading(data, 1600)
    except ImageError as error:
        assert str(error)
        return
    assert pixels.ndim == 3 and pixels.shape[2] == 3 and max(pixels.shape[:2]) <= 1600 and scale >= 1.0

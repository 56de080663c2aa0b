"""Hostile and careless uploads over real HTTP, against gunicorn as the Procfile runs it.

Valid images in any supported form get a caption; everything else a 4xx JSON error naming the problem.
No case may produce a 5xx, and the server must keep answering after all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from harness.servers import start_gunicorn, stop_server
from harness.uploads import INVALID, VALID, jpeg, multipart

BYTE_LIMIT = 2 * 1024 * 1024
BOUNDARY = "hostile-boundary"


@pytest.fixture(scope="module")
def server(colour_model):
    _, model_dir = colour_model
    process, url = start_gunicorn({"CAPTIONER_MODEL": str(model_dir), "CAPTIONER_MAX_BYTES": str(BYTE_LIMIT)})
    yield {"url": url, "process": process}
    if process.poll() is None:  # the last test stops it to read its log
        stop_server(process)


def post(server, body: bytes, content_type: str | None = f"multipart/form-data; boundary={BOUNDARY}",
         **kwargs) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(f"{server['url']}/api/caption", data=body, headers=headers, timeout=60, **kwargs)
    assert response.status_code < 500, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response


def image_part(data: bytes, filename: bytes = b"photo.jpg", content_type: str | None = "image/jpeg"):
    return ("image", filename, data, content_type)


@pytest.mark.parametrize("name", VALID)
def test_every_supported_image_form_gets_a_caption(server, name):
    response = post(server, multipart([image_part(VALID[name]()), ("beam", None, b"2", None)]))
    assert response.status_code == 200, response.text
    assert len(response.json()["caption"].split()) >= 2


@pytest.mark.parametrize("name", INVALID)
def test_every_bad_image_gets_a_400_that_names_the_problem(server, name):
    make, words = INVALID[name]
    response = post(server, multipart([image_part(make())]))
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_no_file_part(server):
    response = post(server, multipart([("beam", None, b"3", None)]))
    assert response.status_code == 400 and "No file" in response.json()["error"]


def test_a_file_over_the_byte_limit_is_refused_before_decoding(server):
    response = post(server, multipart([image_part(b"\xff\xd8\xff" + b"x" * (BYTE_LIMIT + 1))]))
    assert response.status_code == 413 and "file is too large" in response.json()["error"]


def test_a_chunked_upload_over_the_limit_is_cut_off(server):
    """No Content-Length to check up front: the limit applies while the body streams in."""
    body = multipart([image_part(b"\xff\xd8\xff" + b"x" * (BYTE_LIMIT + 1))])
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    response = post(server, chunks)
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_path_traversal_and_control_characters_in_the_file_name_are_ignored(server, tmp_path):
    target = Path("/tmp") / f"captioner-traversal-{os.getpid()}.jpg"
    name = f"../../../../..{target}\x00\x01\x07\x1b\t;é.jpg".encode()
    response = post(server, multipart([image_part(jpeg(), filename=name)]))
    assert response.status_code == 200
    assert not target.exists()  # the name is never used: uploads stay in memory


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", None])
def test_the_part_s_content_type_is_not_trusted(server, content_type):
    """The format is sniffed from the bytes, so a wrong or missing part type changes nothing."""
    response = post(server, multipart([image_part(jpeg(), content_type=content_type)]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body, content_type",
    [(jpeg(), None), (b"image=abc", "application/x-www-form-urlencoded"), (b'{"image": "abc"}', "application/json"),
     (jpeg(), "text/plain")],
    ids=["no-content-type", "url-encoded-form", "json", "text"],
)
def test_a_body_that_is_neither_multipart_nor_an_image_gets_415(server, body, content_type):
    response = post(server, body, content_type=content_type)
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"] and "image/*" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/octet-stream"])
def test_a_photo_sent_as_the_body_is_captioned_like_the_same_photo_in_a_form(server, content_type):
    """The body's bytes are sniffed like a form part's: its declared image type need not be right."""
    photo = VALID["progressive-jpeg"]()
    as_form = post(server, multipart([image_part(photo), ("beam", None, b"2", None)])).json()
    as_body = post(server, photo, content_type=content_type, params={"beam": "2"})
    assert as_body.status_code == 200, as_body.text
    assert as_body.json()["caption"] == as_form["caption"] and as_body.json()["model"]["beam"] == 2


@pytest.mark.parametrize("name", INVALID)
def test_every_bad_image_sent_as_the_body_gets_a_400_that_names_the_problem(server, name):
    make, words = INVALID[name]
    response = post(server, make(), content_type="image/jpeg")
    assert response.status_code == 400 and words in response.json()["error"], response.text


@pytest.mark.parametrize(
    "body, query, status, words",
    [(jpeg(), {"beam": "0"}, 400, "beam must be a whole number from 1 to 10"),
     (b"\xff\xd8\xff" + b"x" * (BYTE_LIMIT + 1), {}, 413, "file is too large")],
    ids=["bad-beam", "over-the-byte-limit"],
)
def test_a_bad_beam_or_an_oversized_photo_body_gets_a_4xx(server, body, query, status, words):
    response = post(server, body, content_type="image/jpeg", params=query)
    assert response.status_code == status and words in response.json()["error"], response.text


@pytest.mark.parametrize(
    "body, content_type, words",
    [(b"this is not multipart at all", None, "no part starts with the boundary"),
     (multipart([image_part(jpeg())], boundary="another-boundary"), None, "no part starts with the boundary"),
     (multipart([image_part(jpeg())])[:200], None, "ends before its closing boundary"),
     (multipart([image_part(jpeg())]), "multipart/form-data", "missing boundary"),
     (multipart([image_part(jpeg(), filename=b"caf\xe9.jpg")]), None, "headers are not UTF-8")],
    ids=["garbage", "wrong-boundary", "cut-short", "no-boundary", "latin-1-file-name"],
)
def test_a_malformed_multipart_body_is_a_400_that_says_so(server, body, content_type, words):
    response = post(server, body, content_type=content_type or f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("The multipart body is malformed") and words in error


def test_a_line_break_in_the_file_name_breaks_the_part_and_is_a_400(server):
    response = post(server, multipart([image_part(jpeg(), filename=b"a\r\nb.jpg")]))
    assert response.status_code == 400 and "No file" in response.json()["error"]


@pytest.mark.parametrize(
    "parts",
    [[image_part(jpeg()), ("beam", None, b"1" * 1_000_000, None)],
     [image_part(jpeg())] + [(f"field{i}", None, b"x", None) for i in range(100)]],
    ids=["huge-field", "many-fields"],
)
def test_huge_or_many_form_fields_get_413(server, parts):
    response = post(server, multipart(parts))
    assert response.status_code == 413 and "form is too large" in response.json()["error"]


def test_the_server_still_answers_and_never_logged_a_traceback(server):
    """Runs last in this module: after everything above, a normal request still works."""
    assert requests.get(f"{server['url']}/health", timeout=10).json()["status"] == "ok"
    assert post(server, multipart([image_part(jpeg())])).status_code == 200
    log = stop_server(server["process"])
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]

"""The Flask app through its test client: page, API, and JSON errors for bad uploads."""

import io

import pytest
from PIL import Image

from tests.conftest import COLOURS


def photo_bytes(colour="red", fmt="JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), COLOURS[colour]).save(buffer, fmt)
    return buffer.getvalue()


def upload(client, data: bytes, name="photo.jpg", path="/api/caption"):
    return client.post(path, data={"image": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_health_and_model_card(client):
    assert client.get("/health").get_json()["status"] == "ok"
    assert client.get("/api/model").get_json()["encoder"]["name"] == "thumbnail"


@pytest.mark.parametrize("colour", ["red", "blue"])
def test_api_captions_a_photo(client, colour):
    response = upload(client, photo_bytes(colour))
    assert response.status_code == 200
    body = response.get_json()
    assert colour in body["caption"].split()
    assert body["timing_ms"]["total"] > 0 and body["model"]["encoder"] == "thumbnail"


def test_page_works_as_a_plain_form_post(client):
    assert b'name="image"' in client.get("/").data
    response = upload(client, photo_bytes("green"), path="/")
    assert response.status_code == 200 and b"green" in response.data


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b"", 400, "empty"),
        (b"just some text", 400, "not an image"),
        (b"x" * (3 * 1024 * 1024), 413, "too large"),
    ],
)
def test_bad_uploads_get_json_errors(client, data, status, message):
    response = upload(client, data)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_missing_file_field(client):
    response = client.post("/api/caption", data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "no file" in response.get_json()["error"]


def test_form_post_of_a_bad_file_shows_the_error_on_the_page(client):
    response = upload(client, b"not a photo", path="/")
    assert response.status_code == 400 and b"not an image" in response.data


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404 and "error" in response.get_json()


def test_app_without_a_model_refuses_to_start(tmp_path):
    from app import create_app
    from captioner import CaptionerError

    with pytest.raises(CaptionerError, match="no trained model"):
        create_app({"MODEL_DIR": str(tmp_path)})

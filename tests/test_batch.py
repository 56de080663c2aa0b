"""Many photos at once: several ``image`` parts in one API request (one caption or error each), the same
without JavaScript, and the page's table with its CSV."""

import io

import pytest
from PIL import Image

from app import MAX_PHOTOS
from harness.colours import COLOURS


def jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), COLOURS[colour]).save(buffer, "JPEG")
    return buffer.getvalue()


def post_photos(client, parts, path="/api/caption"):
    return client.post(path, data={"image": [(io.BytesIO(data), name) for name, data in parts]},
                       content_type="multipart/form-data")


def test_several_photos_get_one_result_each_in_order_and_a_bad_one_its_own_error(client):
    response = post_photos(client, [("red.jpg", jpeg("red")), ("notes.jpg", b"not a photo"), ("empty.jpg", b""),
                                    ("blue.jpg", jpeg("blue"))])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["filename"] for r in results] == ["red.jpg", "notes.jpg", "empty.jpg", "blue.jpg"]
    assert "red" in results[0]["result"]["caption"] and "blue" in results[3]["result"]["caption"]
    assert "not an image" in results[1]["error"] and results[2]["error"] == "The file is empty: choose the photo again."


def test_a_batch_answer_fits_the_openapi_description(client, spec):
    schemas = pytest.importorskip("openapi_schema_validator", reason="pip install -r requirements-dev.txt")

    body = post_photos(client, [("red.jpg", jpeg("red")), ("x.jpg", b"nope")]).get_json()
    schemas.OAS30Validator({"$ref": "#/components/schemas/CaptionBatch", "components": spec["components"]}).validate(body)
    limit = spec["paths"]["/api/caption"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert limit["properties"]["image"]["maxItems"] == MAX_PHOTOS


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def test_more_photos_than_the_limit_are_refused_with_the_limit_named(client):
    response = post_photos(client, [(f"{i}.jpg", jpeg("red")) for i in range(MAX_PHOTOS + 1)])
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"Too many photos: at most {MAX_PHOTOS} 'image' parts in one "
                                                   f"request, got {MAX_PHOTOS + 1}.")


def test_the_byte_limit_holds_for_the_whole_batch(client, app):
    big = b"\xff\xd8" + bytes(app.config["MAX_CONTENT_LENGTH"] // 3)
    response = post_photos(client, [("a.jpg", big), ("b.jpg", big), ("c.jpg", big), ("d.jpg", big)])
    assert response.status_code == 413 and "file is too large" in response.get_json()["error"]


def test_explain_takes_one_photo_only(client):
    response = post_photos(client, [("red.jpg", jpeg("red")), ("blue.jpg", jpeg("blue"))], path="/api/explain")
    assert response.status_code == 400 and "got 2 'image' parts" in response.get_json()["error"]


def test_without_javascript_several_photos_render_a_table(client):
    page = post_photos(client, [("red.jpg", jpeg("red")), ("notes.jpg", b"nope")], path="/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Alt text for 2 photos" in html and "red.jpg" in html and "not an image" in html
    assert 'class="alt"><input type="text" value="A ' in html  # the red photo's alt text, a sentence to edit

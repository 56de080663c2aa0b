"""The Flask app through its test client: every route, every bad upload, the OpenAPI description."""

import io

import pytest
from PIL import Image

from harness.colours import COLOURS


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def photo_bytes(colour="red", fmt="JPEG", size=(120, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, COLOURS[colour]).save(buffer, fmt)
    return buffer.getvalue()


def upload(client, data: bytes | None, name="photo.jpg", path="/api/caption", **fields):
    form = dict(fields)
    if data is not None:
        form["image"] = (io.BytesIO(data), name)
    return client.post(path, data=form, content_type="multipart/form-data")


def test_health_and_model_card(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    card = client.get("/api/model").get_json()
    assert card["encoder"]["name"] == "thumbnail"


@pytest.mark.parametrize("colour", ["red", "blue"])
def test_api_captions_a_photo_with_candidates_and_timings(client, colour):
    response = upload(client, photo_bytes(colour), beam="3")
    assert response.status_code == 200
    body = response.get_json()
    assert colour in body["caption"].split()
    assert body["caption"] == body["candidates"][0]["caption"] and len(body["candidates"]) == 3
    assert body["model"]["beam"] == 3 and body["timing_ms"]["total"] >= body["timing_ms"]["encode"]


def test_beam_one_is_greedy_and_the_default_is_three(client):
    assert len(upload(client, photo_bytes()).get_json()["candidates"]) == 3
    assert len(upload(client, photo_bytes(), beam="1").get_json()["candidates"]) == 1


def test_the_page_works_as_a_plain_form_post(client):
    page = client.get("/")
    assert page.status_code == 200
    for fragment in (b'name="image"', b'for="image"', b'name="beam"', b"Copy as alt text", b"app.js"):
        assert fragment in page.data
    response = upload(client, photo_bytes("green", "PNG"), path="/", beam="2")
    assert response.status_code == 200
    html = response.data.decode()
    assert "green" in html and 'src="data:image/jpeg;base64,' in html and "Captioned in" in html


def test_the_page_lists_the_captions_it_weighed_in_the_search_s_order(client):
    """Best first, as the API ranks them, and with no whole-sentence share beside them: such shares favour short
    captions, so they put the list in another order than the search's (a first caption at 10%, a fourth at 73%)."""
    import re

    ranked = [c["caption"] for c in upload(client, photo_bytes("blue"), beam="3").get_json()["candidates"]]
    html = upload(client, photo_bytes("blue"), path="/", beam="3").data.decode()
    listed = re.search(r'<ol id="candidates"[^>]*>(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r"<li[^>]*><span>(.*?)</span></li>", listed) == ranked
    assert "%" not in listed


def test_the_no_javascript_preview_keeps_the_photo_s_shape(client):
    import base64
    import re

    response = upload(client, photo_bytes("blue", "PNG", size=(400, 100)), path="/")
    encoded = re.search(r'src="data:image/jpeg;base64,([^"]+)"', response.data.decode()).group(1)
    preview = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert preview.size == (320, 80)


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buffer, "PNG")  # 100 megapixels in a few kilobytes
    return buffer.getvalue()


def ico() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "ICO")
    return buffer.getvalue()


# Bad uploads and what their error must say; a str names a file made by bad_upload_data.
BAD_UPLOADS = [
    (None, {}, 400, "No file"),
    (b"", {}, 400, "empty"),
    (b"just some text, named photo.jpg", {}, 400, "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", {}, 400, "not an image"),
    ("ico", {}, 400, "ICO images cannot be described"),
    ("truncated", {}, 400, "corrupt"),
    ("bomb", {}, 400, "too large to decode"),
    (b"x" * (3 * 1024 * 1024), {}, 413, "file is too large"),
    ("photo", {"beam": "0"}, 400, "beam must be a whole number from 1 to 10"),
    ("photo", {"beam": "11"}, 400, "beam must be"),
    ("photo", {"beam": "two"}, 400, "beam must be"),
    ("photo", {"beam": "2.5"}, 400, "beam must be"),
    ("photo", {"beam": "¹"}, 400, "beam must be"),
]
BAD_UPLOAD_IDS = ["no-file", "empty", "text", "svg", "ico", "truncated", "bomb", "too-many-bytes", "beam-0", "beam-11",
                  "beam-word", "beam-float", "beam-superscript"]


def bad_upload_data(data):
    """The bytes a BAD_UPLOADS entry sends."""
    if not isinstance(data, str):
        return data
    return {"ico": ico, "bomb": bomb, "photo": photo_bytes, "truncated": lambda: photo_bytes(size=(400, 300))[:600]}[data]()


@pytest.mark.parametrize("data, fields, status, message", BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_bad_uploads_get_a_json_error_that_names_the_problem(client, data, fields, status, message):
    response = upload(client, bad_upload_data(data), **fields)
    assert response.status_code == status
    body = response.get_json()
    assert message in body["error"]


# The stable code a program can act on, beside each message for people (the same order as BAD_UPLOADS).
BAD_UPLOAD_CODES = ["no_file", "empty_file", "not_an_image", "not_an_image", "unsupported_format", "corrupt_image",
                    "too_many_pixels", "too_large", "bad_beam", "bad_beam", "bad_beam", "bad_beam", "bad_beam"]


@pytest.mark.parametrize("upload_case, code", list(zip(BAD_UPLOADS, BAD_UPLOAD_CODES, strict=True)),
                         ids=BAD_UPLOAD_IDS)
def test_every_error_carries_a_stable_code_beside_its_message(client, upload_case, code):
    data, fields, status, _ = upload_case
    body = upload(client, bad_upload_data(data), **fields).get_json()
    assert body["code"] == code, body


# What an error message tells its reader to do: every one says at least one of these.
WHAT_TO_DO = ("send", "choose", "save", "scale", "leave it out", "try again")


@pytest.mark.parametrize("data, fields, status, message", BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_every_error_message_is_a_sentence_that_says_what_to_do(client, data, fields, status, message):
    error = upload(client, bad_upload_data(data), **fields).get_json()["error"]
    assert error[0].isupper() and error.endswith("."), error
    assert any(verb in error.lower() for verb in WHAT_TO_DO), error


def fits(spec, body, schema: str) -> None:
    """``body`` fits the description's schema, read as OpenAPI 3.0 reads it (``nullable``)."""
    schemas = pytest.importorskip("openapi_schema_validator", reason="checking answers against schemas needs "
                                                                     "openapi-schema-validator (requirements-dev.txt)")
    schemas.OAS30Validator({"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}).validate(body)


@pytest.mark.parametrize("data, fields, status, message", BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_every_bad_upload_answer_fits_the_error_schema(client, spec, data, fields, status, message):
    fits(spec, upload(client, bad_upload_data(data), **fields).get_json(), "Error")


# A request of every other kind the API answers (bad uploads are BAD_UPLOADS), and the schema of the OpenAPI description its answer must fit.
ANSWERS = {
    "health": (lambda client: client.get("/health"), 200, "Health"),
    "model-card": (lambda client: client.get("/api/model"), 200, "ModelCard"),
    "caption": (lambda client: upload(client, photo_bytes(), beam="3"), 200, "Caption"),
    "explanation": (lambda client: upload(client, photo_bytes(), path="/api/explain", grid="4", beam="2"), 200,
                    "Explanation"),
    "unknown-route": (lambda client: client.get("/nope"), 404, "Error"),
    "wrong-method": (lambda client: client.get("/api/caption"), 405, "Error"),
}


@pytest.mark.parametrize("kind", ANSWERS)
def test_every_kind_of_answer_fits_the_openapi_description(client, spec, kind):
    request, status, schema = ANSWERS[kind]
    response = request(client)
    assert response.status_code == status
    fits(spec, response.get_json(), schema)


def test_a_bad_upload_on_the_page_shows_the_error_escaped(client):
    response = upload(client, photo_bytes(), path="/", beam="<script>x</script>")
    assert response.status_code == 400
    assert b"beam must be" in response.data and b"<script>x</script>" not in response.data
    assert b"&lt;script&gt;" in response.data


def test_unknown_routes_and_methods_are_json(client):
    missing = client.get("/nope")
    assert missing.status_code == 404 and "Not found: /nope" in missing.get_json()["error"]
    wrong = client.get("/api/caption")
    assert wrong.status_code == 405 and "GET" in wrong.get_json()["error"]


def test_security_headers(client):
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_large_uploads_stay_in_memory(client, monkeypatch):
    import werkzeug.formparser as formparser

    def no_disk(*args, **kwargs):
        raise AssertionError("the upload was spooled to a temporary file")

    monkeypatch.setattr(formparser, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(formparser, "TemporaryFile", no_disk, raising=False)
    big = photo_bytes("yellow", "BMP", size=(800, 600))  # 1.4 MB, over Werkzeug's 500 KB spool threshold
    assert len(big) > 1024 * 1024
    assert upload(client, big).status_code == 200


def test_the_openapi_description_lists_exactly_the_app_s_routes(app, spec):
    routes = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    pages = {("/", "get"), ("/", "post"), ("/model", "get"), ("/docs", "get"), ("/docs/<name>", "get")}  # HTML, not API
    assert documented == routes - pages


def test_app_without_a_model_refuses_to_start(tmp_path):
    from app import create_app
    from captioner import CaptionerError

    with pytest.raises(CaptionerError, match="no trained model"):
        create_app({"MODEL_DIR": str(tmp_path)})


def test_candidates_come_in_the_order_of_the_score_they_are_ranked_by(client):
    candidates = upload(client, photo_bytes("blue"), beam="4").get_json()["candidates"]
    scores = [c["score"] for c in candidates]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert all(c["score"] <= 0 and c["log_prob"] <= 0 for c in candidates)


def test_the_model_card_page_is_the_card_for_people_and_the_json_stays(client):
    page = client.get("/model")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for heading in ("<h1>Model card", "<h2>Intended use</h2>", "<h2>Limitations and biases</h2>"):
        assert heading in html
    assert "<table>" in html and "<th scope=\"col\">BLEU-4</th>" in html and "<script" not in html
    assert 'href="/model"' in client.get("/").get_data(as_text=True)  # the footer's link
    assert client.get("/api/model").get_json()["encoder"]["name"]


def test_the_markdown_of_the_card_can_bring_no_markup_of_its_own():
    from app import markdown_html

    text = "# A <b>title</b>\n\n- **bold** and `<code>` and [x](javascript:alert(1))\n\n<script>x</script>"
    html = str(markdown_html(text))
    assert "<b>" not in html and "<script>" not in html and "<a " not in html
    assert "<strong>bold</strong>" in html and "<code>&lt;code&gt;</code>" in html and "<h1>A &lt;b&gt;" in html


@pytest.mark.parametrize("certainty, listed", [("confident", ["dog (79%)", "person (70%)"]),
                                               ("hedged", ["dog (79%)"]), ("unsure", [])])
def test_the_page_lists_what_was_recognised_only_as_far_as_the_answer_is_sure(app, certainty, listed):
    """An unsure answer's alt text already says what it is fairly sure of; the rest are guesses it declined."""
    from app import recognised

    objects = [{"word": "dog", "probability": 0.79, "kind": "concept"},
               {"word": "person", "probability": 0.7, "kind": "person"},
               {"word": "camera", "probability": 0.2, "kind": "concept"}]
    with app.app_context():
        assert recognised({"objects": objects, "certainty": certainty, "unsure": certainty != "confident"}) == listed


def test_every_sample_photo_is_on_the_page_credited_and_small(client):
    from PIL import Image

    from app import SAMPLE_PHOTOS
    from captioner.data import REPO_ROOT
    from captioner.images import MIN_SIDE

    folder = REPO_ROOT / "static" / "samples"
    page = client.get("/").get_data(as_text=True)
    sources = (folder / "SOURCES.md").read_text()
    assert "License: Apache-2.0 AND BSD-3-Clause" in sources and "Apache-2.0 and BSD-3-Clause" in page
    for file, shows in SAMPLE_PHOTOS:
        assert f"| {file} |" in sources and f"samples/{file}" in page and f"<span>{shows}</span>" in page
        assert (folder / file).stat().st_size < 100_000  # the page loads them all as thumbnails
        assert min(Image.open(folder / file).size) >= MIN_SIDE
        assert client.get(f"/static/samples/{file}").status_code == 200

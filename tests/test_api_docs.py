"""The API as a developer meets it: a valid OpenAPI description with ids, examples and every status, the
interactive docs at /docs, and CORS only for the origins the operator lists."""

import io

import pytest
from PIL import Image

SPEC_OPERATIONS = [("/api/caption", "post"), ("/api/explain", "post"), ("/health", "get"), ("/api/model", "get"),
                   ("/api/openapi.json", "get")]


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def operations(spec):
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]


def test_the_description_is_valid_openapi_3(spec):
    validator = pytest.importorskip("openapi_spec_validator", reason="pip install -r requirements-dev.txt")
    validator.validate(spec)


def test_every_operation_has_an_id_and_documents_the_500(spec):
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all("500" in op["responses"] for _, _, op in operations(spec))


def test_every_example_fits_its_schema(spec):
    schemas = pytest.importorskip("openapi_schema_validator", reason="pip install -r requirements-dev.txt")
    examples = 0
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            for media in response.get("content", {}).values():
                values = [media["example"]] if "example" in media else []
                values += [e["value"] for e in media.get("examples", {}).values()]
                for value in values:
                    examples += 1
                    # OpenAPI 3.0's schemas (its "nullable"), not plain JSON Schema's
                    schemas.OAS30Validator({**media["schema"], "components": spec["components"]}).validate(value)
    assert examples >= 10  # a caption, health, and the error statuses


def error_example(spec, status, path="/api/caption"):
    return spec["paths"][path]["post"]["responses"][status]["content"]["application/json"]["example"]["error"]


def test_the_error_examples_are_what_the_app_answers(client, spec):
    not_an_image = client.post("/api/caption", data={"image": (io.BytesIO(b"plain text"), "a.jpg")},
                               content_type="multipart/form-data")
    assert not_an_image.status_code == 400 and not_an_image.get_json()["error"] == error_example(spec, "400")
    wrong_type = client.post("/api/caption", data=b"plain text", content_type="text/plain")
    assert wrong_type.status_code == 415 and wrong_type.get_json()["error"] == error_example(spec, "415")


def test_the_docs_page_loads_swagger_ui_from_the_app_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'src="/docs/swagger-ui-bundle.js"' in html and 'src="/static/docs.js"' in html
    assert "<script>" not in html and "https://" not in html  # no inline script, no CDN
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.get_data(as_text=True)[:200_000]
    assert client.get("/docs/swagger-ui.css").status_code == 200
    for other in ("/docs/index.css", "/docs/..%2Fapp.py", "/docs/oauth2-redirect.html"):
        assert client.get(other).status_code == 404, other


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_no_cross_origin_access_by_default(client):
    response = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


@pytest.fixture(scope="module")
def cors_client(colour_model):
    from app import create_app

    _, model_dir = colour_model
    return create_app({"MODEL_DIR": str(model_dir), "TESTING": True,
                       "CORS_ORIGINS": ["https://alt-text.example"]}).test_client()


def test_a_listed_origin_may_call_the_api(cors_client):
    allowed = {"Origin": "https://alt-text.example"}
    preflight = cors_client.options("/api/caption", headers={**allowed, "Access-Control-Request-Method": "POST",
                                                             "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://alt-text.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = cors_client.post("/api/caption", data=photo(), content_type="image/jpeg", headers=allowed)
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "https://alt-text.example"


def test_an_unlisted_origin_and_the_page_get_no_cors_headers(cors_client):
    other = cors_client.post("/api/caption", data=photo(), content_type="image/jpeg",
                             headers={"Origin": "https://elsewhere.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    page = cors_client.get("/", headers={"Origin": "https://alt-text.example"})
    assert "Access-Control-Allow-Origin" not in page.headers


def test_a_malformed_origin_stops_the_app_with_one_line(colour_model):
    from app import create_app
    from captioner import CaptionerError

    _, model_dir = colour_model
    with pytest.raises(CaptionerError, match="'alt-text.example/' is not an origin"):
        create_app({"MODEL_DIR": str(model_dir), "CORS_ORIGINS": ["alt-text.example/"]})


def test_try_it_out_starts_from_the_default_search_with_one_beam_box(spec):
    """Swagger UI fills a form from the examples: the beam the model uses by default, not the maximum; and the
    query-string beam (for a photo sent as the body) is described there, not offered as a second box."""
    caption = spec["paths"]["/api/caption"]["post"]
    assert caption["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["beam"]["example"] == 4
    assert "parameters" not in caption
    assert "?beam=" in caption["requestBody"]["content"]["image/*"]["schema"]["description"]

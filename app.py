"""The web app: upload a photo, get a sentence that describes it.

``create_app`` is the application factory (as in Flask's tutorial); one blueprint holds the page and the
JSON API. The model loads once, when the app is created, so a worker never answers without one:
``python app.py`` serves on ``$HOST:$PORT`` (default 127.0.0.1:5000); the Procfile runs gunicorn with
``app:production_app()``. A model folder that is missing, incomplete or damaged stops either with one line.

Uploads stay in memory: the request class below keeps file parts in a BytesIO (Werkzeug would spool
parts over 500 KB to a temporary file), and the byte limit is enforced before the body is parsed.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, send_from_directory
from flask.wrappers import Request
from markupsafe import Markup, escape
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestTimeout, UnsupportedMediaType

from captioner import CaptionerError
from captioner.data import REPO_ROOT
from captioner.images import MAX_PIXELS, MIN_SIDE
from captioner.model_folder import default_model_dir, exit_on_model_error
from captioner.serving import DEFAULT_GRID

MAX_BEAM = 10
# Photos one API request may carry as several ``image`` parts; all of them share the request's byte limit.
MAX_PHOTOS = 10
# An explanation encodes grid x grid + 1 photos: 12 x 12 is about 3 s here, 6 x 6 under one.
MIN_GRID, MAX_GRID = 2, 12
# Photos a visitor can click to try the page (static/samples/, whose SOURCES.md gives their licences): a file name
# and what the photo shows, which names its button.
SAMPLE_PHOTOS = (("basketball.jpg", "Basketball"), ("park-sign.jpg", "Park sign"),
                 ("cartoon-fish.jpg", "Cartoon fish"))
OPENAPI_FILE = REPO_ROOT / "static" / "openapi.json"
# The interactive API docs at /docs: Swagger UI's own build, from its PyPI package (never a CDN), started by
# static/docs.js because the page's Content-Security-Policy allows no inline script.
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
# What pages on other origins may call, where CAPTIONER_CORS_ORIGINS lets them.
CORS_ROUTES = (r"/api/*", "/health")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _defaults() -> dict:
    env = os.environ
    return {
        "MODEL_DIR": str(default_model_dir()),
        "MAX_CONTENT_LENGTH": int(env.get("CAPTIONER_MAX_BYTES", 10 * 1024 * 1024)),
        # The form has one file and one small field; many fields are not this app's client. The memory limit
        # also caps Werkzeug's parse buffer, which holds up to two 64 KB reads of the file: keep it well above.
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 16,
        "MAX_PIXELS": int(env.get("CAPTIONER_MAX_PIXELS", MAX_PIXELS)),
        # Unset: the beam width the model card records, chosen with the model on the dev split.
        "DEFAULT_BEAM": int(env["CAPTIONER_BEAM"]) if env.get("CAPTIONER_BEAM") else None,
        "SECRET_KEY": env.get("SECRET_KEY"),  # no sessions use it today; never hard-coded
        # Origins whose pages may call the API from a browser (comma-separated, or *); none by default.
        "CORS_ORIGINS": [o.strip() for o in env.get("CAPTIONER_CORS_ORIGINS", "").split(",") if o.strip()],
        # Flask would take DEBUG from FLASK_DEBUG; a server never runs in debug mode by accident.
        "DEBUG": False,
    }


class InMemoryRequest(Request):
    """Keeps uploaded files in memory, never in a temporary file on disk, and reports malformed forms."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()

    def make_form_data_parser(self):
        # Werkzeug's parser is silent by default: a malformed body would read as an empty form, and the
        # client would hear "no file" for a file it did send. Not silent, the parse error reaches read_upload.
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser


bp = Blueprint("captioner", __name__)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.from_mapping(_defaults())
    app.config.update(config or {})
    allow_cross_origin(app, app.config["CORS_ORIGINS"])
    app.extensions["captioner"] = load_captioner(app.config["MODEL_DIR"])
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    app.after_request(security_headers)
    return app


def production_app() -> Flask:
    """gunicorn's entry: without a usable model the server stops with one line, not a traceback per worker."""
    with exit_on_model_error():
        return create_app()


def allow_cross_origin(app: Flask, origins: list[str]) -> None:
    """CORS for the API and /health, for the listed origins only (flask-cors answers the preflights)."""
    if not origins:
        return
    bad = [o for o in origins if o != "*" and not ORIGIN.match(o)]
    if bad:
        raise CaptionerError(f"CAPTIONER_CORS_ORIGINS: {bad[0]!r} is not an origin (scheme://host[:port], or *)")
    from flask_cors import CORS

    CORS(app, resources={route: {"origins": origins} for route in CORS_ROUTES}, methods=["GET", "POST"],
         allow_headers=["Content-Type"], max_age=600)


def load_captioner(model_dir: str | Path):
    from captioner.serving import Captioner

    captioner = Captioner(model_dir)
    captioner.warm_up()
    return captioner


# --- page ------------------------------------------------------------------------------------------


@bp.app_context_processor
def page_helpers() -> dict:
    """What every render of the page needs: the upload limits it states (and its script checks before sending),
    the things it lists as recognised, and the sample photos to try."""
    max_bytes = current_app.config["MAX_CONTENT_LENGTH"]
    return {"limits": {"max_bytes": max_bytes, "max_text": f"{max_bytes / 2**20:.0f} MB", "min_side": MIN_SIDE,
                       "recognised_floor": _recognised_floor()},
            "recognised": recognised, "samples": SAMPLE_PHOTOS}


def recognised(result: dict) -> list[str]:
    """The things the page lists, in plain words: those guidance would act on (as probable as an unsure answer
    needs to name one), and a person only where the answer is not in doubt (the probe alone is no evidence). An
    unsure answer lists none: its alt text already says the one thing it is fairly sure of, and the rest are the
    guesses it declined (a leaf's "dog (79%)")."""
    if result.get("certainty") == "unsure":
        return []
    floor = _recognised_floor()
    return [f"{o['word']} ({o['probability']:.0%})" for o in result.get("objects", [])
            if o["probability"] >= floor and (o["kind"] != "person" or not result.get("unsure"))]


def _recognised_floor() -> float:
    return float(_card().get("guidance", {}).get("sure_thing_threshold", 0.5))


@bp.get("/")
def index():
    return render_template("index.html", card=_card(), max_beam=MAX_BEAM, beam=_default_beam())


@bp.post("/")
def caption_form():
    """The page without JavaScript: a plain form post renders the caption and a preview."""
    try:
        photos, beam = read_uploads()
        if len(photos) > 1:
            batch = [caption_or_error(name, data, beam) for name, data in photos]
            return render_template("index.html", card=_card(), max_beam=MAX_BEAM, beam=beam, batch=batch)
        data = only_photo(photos)
        result = caption(data, beam)
    except CaptionerError as error:
        return render_template("index.html", card=_card(), max_beam=MAX_BEAM, beam=_default_beam(),
                               error=str(error)), 400
    preview = f"data:image/jpeg;base64,{base64.b64encode(_preview_jpeg(data)).decode()}"
    return render_template("index.html", card=_card(), max_beam=MAX_BEAM, beam=beam, result=result, preview=preview)


# --- JSON API ---------------------------------------------------------------------------------------


@bp.post("/api/caption")
def caption_api():
    """One photo: its caption. Several ``image`` parts: ``{"results": [...]}``, one caption or error per photo."""
    try:
        photos, beam = read_uploads()
        if len(photos) == 1:
            return jsonify(caption(only_photo(photos), beam))
        return jsonify(results=[caption_or_error(name, data, beam) for name, data in photos])
    except CaptionerError as error:
        return jsonify(error=str(error), code=error.code), 400


def caption_or_error(name: str, data: bytes, beam: int) -> dict:
    """A photo of a batch: its caption, or what is wrong with it; the others are captioned all the same."""
    try:
        return {"filename": name, "result": caption(only_photo([(name, data)]), beam)}
    except CaptionerError as error:
        return {"filename": name, "error": str(error), "code": error.code}


@bp.post("/api/explain")
def explain_api():
    """Where the caption's words came from: one occlusion map per word over a grid of the photo."""
    try:
        data, beam = read_upload()
        grid = whole_number_field("grid", MIN_GRID, MAX_GRID, DEFAULT_GRID)
        result = current_app.extensions["captioner"].explain_image(
            data, grid=grid, beam_size=beam, max_pixels=current_app.config["MAX_PIXELS"])
        return jsonify(result)
    except CaptionerError as error:
        return jsonify(error=str(error), code=error.code), 400


@bp.get("/health")
def health():
    return jsonify(status="ok", encoder=_card()["encoder"]["name"], vocab_size=_card()["vocab_size"])


@bp.get("/model")
def model_card_page():
    """The model card for people: docs/model-card.md (what it is for and not for, its figures and limits)."""
    if not MODEL_CARD_DOC.is_file():
        abort(404)
    return render_template("model_card.html", body=markdown_html(MODEL_CARD_DOC.read_text()))


@bp.get("/api/model")
def model_card():
    return jsonify(_card())


@bp.get("/api/openapi.json")
def openapi():
    return current_app.response_class(OPENAPI_FILE.read_bytes(), mimetype="application/json")


@bp.get("/docs")
def api_docs():
    """Swagger UI over /api/openapi.json: every operation, with examples, to try from the browser."""
    return render_template("docs.html")


@bp.get("/docs/<name>")
def api_docs_file(name: str):
    if name not in SWAGGER_UI_FILES:
        abort(404)
    import flask_swagger_ui

    return send_from_directory(Path(flask_swagger_ui.__file__).parent / "dist", name, max_age=86400)


# The page's model card is the repository's, which the Docker image copies too.
MODEL_CARD_DOC = REPO_ROOT / "docs" / "model-card.md"


def markdown_html(text: str) -> Markup:
    """The Markdown the docs are written in (headings, paragraphs, "- " lists, tables, `code`, **bold**, *italics*,
    [links](...)) as HTML. Everything is escaped before any tag is added, so the text can bring no markup of its
    own."""
    html = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.split("\n")
        if lines[0].startswith("#"):
            level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
            html.append(f"<h{level}>{_inline(lines[0].lstrip('#').strip())}</h{level}>")
        elif all(line.startswith("|") for line in lines):
            rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
            head = "".join(f"<th scope=\"col\">{_inline(c)}</th>" if c else "<td></td>" for c in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows[2:])
            html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif lines[0].startswith("- "):
            items = re.split(r"\n- ", block.strip()[2:])
            html.append("<ul>" + "".join(f"<li>{_inline(' '.join(i.split()))}</li>" for i in items) + "</ul>")
        else:
            html.append(f"<p>{_inline(' '.join(block.split()))}</p>")
    # Every piece of the text went through escape() in _inline; only the tags added here are markup.
    return Markup("\n".join(html))  # nosec B704


def _inline(text: str) -> str:
    """Escaped text with `code`, **bold**, *italics* and [links](url) (http, https or a path of the site)."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{escape(part[1:-1])}</code>")
            continue
        part = str(escape(part))
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)
        part = re.sub(r"\[([^\]]+)\]\(((?:https?://|/)[^)\s]+)\)", r'<a href="\2">\1</a>', part)
        out.append(part)
    return "".join(out)


# --- the work -------------------------------------------------------------------------------------


def read_upload() -> tuple[bytes, int]:
    """One uploaded photo's bytes and the beam width, or a CaptionerError that names what is wrong."""
    photos, beam = read_uploads()
    return only_photo(photos), beam


def only_photo(photos: list[tuple[str, bytes]]) -> bytes:
    """The one photo's bytes (an empty file is refused where every image is, in captioner.images.open_image)."""
    if len(photos) > 1:
        raise CaptionerError(f"This address takes one photo and got {len(photos)} 'image' parts: send them one at a "
                             "time, or all together to /api/caption.", code="several_photos")
    return photos[0][1]


def read_uploads() -> tuple[list[tuple[str, bytes]], int]:
    """The uploaded photos as (file name, bytes), and the beam width.

    A photo comes as the multipart form field ``image`` (what a browser's form sends; repeated, up to
    MAX_PHOTOS), or as the whole body with an ``image/*`` or ``application/octet-stream`` content type
    (``curl --data-binary``), its options then in the query string. The raw body spares parsing a form:
    1.1-1.5 ms per request here (``benchmarks/bench_serving.py``).
    """
    with stalled_upload_is_408():
        if request.mimetype.startswith("image/") or request.mimetype == "application/octet-stream":
            photos = [("<body>", request.get_data(cache=False))]
        elif request.mimetype == "multipart/form-data":
            photos = _multipart_images()
        else:
            got = request.mimetype or "no content type"
            raise UnsupportedMediaType(f"Send the photo as multipart/form-data in the field 'image', or as the "
                                       f"body with an image/* content type (got {got}).")
    beam = whole_number_field("beam", 1, MAX_BEAM, _default_beam())
    return photos, beam


@contextmanager
def stalled_upload_is_408():
    """A body that stops arriving is a 4xx that says so, not a 500.

    Werkzeug reports a short body as ClientDisconnected (400). Under gunicorn a read also fails once the
    client has sent nothing for gunicorn.conf.py's receive timeout (the socket's EAGAIN): that one is a 408.
    """
    try:
        yield
    except ClientDisconnected as error:
        if isinstance(error.__context__, (BlockingIOError, TimeoutError)):
            raise RequestTimeout("The upload stalled: no data arrived for too long, so the server stopped "
                                 "waiting for the rest of the photo. Check the connection and send it again.") from None
        raise ClientDisconnected("The upload ended before the whole body arrived: send the photo again.") from None


def _multipart_images() -> list[tuple[str, bytes]]:
    try:
        files = request.files  # parses the whole form
    except ValueError as error:
        raise CaptionerError(f"The multipart body is malformed: {multipart_problem(error)}. Send the photo as the "
                             "form field 'image'.", code="malformed_upload") from None
    uploads = files.getlist("image")
    if not uploads:
        raise CaptionerError("No file arrived: send the photo as the multipart form field 'image'.", code="no_file")
    if len(uploads) > MAX_PHOTOS:
        raise CaptionerError(f"Too many photos: at most {MAX_PHOTOS} 'image' parts in one request, got {len(uploads)}. "
                             "Send the rest in another request.", code="too_many_photos")
    return [(upload.filename or f"photo {i + 1}", upload.read()) for i, upload in enumerate(uploads)]


def whole_number_field(name: str, low: int, high: int, default: int) -> int:
    """The form field (or query parameter) ``name`` as a whole number in ``[low, high]``; ``default`` when
    it is absent or blank."""
    text = request.values.get(name, "").strip()
    if not text:
        return default
    # isdecimal() alone would let "¹" or "١" through to int(): ASCII digits only.
    if not (text.isascii() and text.isdecimal()) or not low <= int(text) <= high:
        raise CaptionerError(f"The {name} must be a whole number from {low} to {high}, got {text[:20]!r}: leave it out "
                             "for the model's own.", code=f"bad_{name}")
    return int(text)


def multipart_problem(error: ValueError) -> str:
    """Werkzeug's parse error in the client's terms."""
    text = str(error)
    if isinstance(error, UnicodeDecodeError):
        return "a part's headers are not UTF-8"
    if text.endswith("PREAMBLE"):
        return "no part starts with the boundary named in the Content-Type header"
    if "cannot parse beyond" in text:
        return "the body ends before its closing boundary (cut short?)"
    return text.lower()


def caption(data: bytes, beam: int) -> dict:
    captioner = current_app.extensions["captioner"]
    result = captioner.caption_image(data, beam_size=beam, max_pixels=current_app.config["MAX_PIXELS"]).as_dict()
    card = _card()
    result["model"] = {"encoder": card["encoder"]["name"], "date": card.get("date"), "beam": beam,
                       "length_penalty": captioner.decoding["length_penalty"],
                       "decoders": captioner.decoder.members}
    return result


def _preview_jpeg(data: bytes) -> bytes:
    """A small JPEG of the upload for the no-JavaScript page (the upload itself is never stored)."""
    from PIL import Image

    from captioner.images import load_rgb

    pixels = load_rgb(data, (320, 320), current_app.config["MAX_PIXELS"], keep_aspect=True)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


# --- errors and headers -----------------------------------------------------------------------------


# The stable codes of HTTP-level errors (a CaptionerError carries its own), for programs to act on.
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 408: "upload_stalled", 413: "too_large",
                    415: "unsupported_media_type", 400: "upload_cut_short"}


def http_error(error: HTTPException):
    if error.code == 413:
        message = too_large_message()
    elif error.code == 404:
        message = f"Not found: {request.path}. The page is at / and the API is described at /docs."
    elif error.code == 405:
        message = f"The method {request.method} is not allowed on {request.path}: /docs lists what each route takes."
    else:
        message = error.description
    if request.path == "/" and request.method == "POST":
        return render_template("index.html", card=_card(), max_beam=MAX_BEAM, beam=_default_beam(),
                               error=message), error.code
    return jsonify(error=message, code=HTTP_ERROR_CODES.get(error.code, "bad_request")), error.code


def too_large_message() -> str:
    """Werkzeug raises the same 413 for a big body and for big or many form fields: tell them apart."""
    config = current_app.config
    length = request.content_length
    if length is None or length > config["MAX_CONTENT_LENGTH"]:
        limit = config["MAX_CONTENT_LENGTH"]
        return (f"The file is too large: the limit is {limit / 2**20:.0f} MB ({limit:,} bytes). Send a smaller copy "
                "of the photo (a JPEG, or fewer pixels).")
    return (f"The form is too large: a text field may hold {config['MAX_FORM_MEMORY_SIZE']:,} bytes "
            f"and a form {config['MAX_FORM_PARTS']} fields.")


def unexpected_error(error: Exception):
    """A bug, not bad input: logged with its traceback, answered without one."""
    logging.getLogger("captioner").exception("unexpected error on %s %s", request.method, request.path)
    return jsonify(error="Something went wrong in the server while captioning this: try again, and if it happens "
                         "again, tell whoever runs this site.", code="internal_error"), 500


def security_headers(response):
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _card() -> dict:
    return current_app.extensions["captioner"].card


def _default_beam() -> int:
    beam = current_app.config["DEFAULT_BEAM"] or current_app.extensions["captioner"].decoding["beam"]
    return min(max(int(beam), 1), MAX_BEAM)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except CaptionerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", 5000))
    print(f"serving the captioner on http://{host}:{port}", flush=True)
    app.run(host=host, port=port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The web app: upload a photo, get a sentence that describes it.

``create_app`` is the application factory (as in Flask's tutorial); one blueprint holds the page and
the JSON API. The model loads once, when the app is created, so a worker that answers has a model.
``python app.py`` serves on ``$HOST:$PORT`` (default 127.0.0.1:5000); gunicorn uses ``app:create_app()``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from captioner import CaptionerError
from captioner.data import REPO_ROOT
from captioner.images import ImageError

DEFAULTS = {
    "MODEL_DIR": os.environ.get("CAPTIONER_MODEL", str(REPO_ROOT / "model")),
    "MAX_CONTENT_LENGTH": int(os.environ.get("CAPTIONER_MAX_BYTES", 10 * 1024 * 1024)),
}

bp = Blueprint("captioner", __name__)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(config or {})
    app.extensions["captioner"] = load_captioner(app.config["MODEL_DIR"])
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, http_error_as_json)
    return app


def load_captioner(model_dir: str | Path):
    from captioner.pipeline import Captioner

    return Captioner(model_dir)


@bp.get("/")
def index():
    return render_template("index.html", card=current_app.extensions["captioner"].model.card)


@bp.post("/")
def caption_form():
    """The page without JavaScript: a plain form post renders the caption."""
    try:
        result = caption_upload()
    except CaptionerError as error:
        return render_template("index.html", error=str(error), card=_card()), 400
    return render_template("index.html", result=result, card=_card())


@bp.post("/api/caption")
def caption_api():
    try:
        return jsonify(caption_upload())
    except CaptionerError as error:
        return jsonify(error=str(error)), 400


@bp.get("/health")
def health():
    return jsonify(status="ok", encoder=_card()["encoder"]["name"])


@bp.get("/api/model")
def model_card():
    return jsonify(_card())


def caption_upload() -> dict:
    upload = request.files.get("image")
    if upload is None:
        raise CaptionerError("no file: send the photo as multipart form field 'image'")
    data = upload.read()
    if not data:
        raise ImageError("the file is empty")
    started = time.perf_counter()
    result = next(iter(current_app.extensions["captioner"].caption_sources([data])))
    if result.error:
        raise ImageError(result.error)
    return {
        "caption": result.caption,
        "model": {"encoder": _card()["encoder"]["name"], "date": _card().get("date")},
        "timing_ms": {"total": round((time.perf_counter() - started) * 1000, 1)},
    }


def http_error_as_json(error: HTTPException):
    messages = {413: f"file too large (limit {current_app.config['MAX_CONTENT_LENGTH']:,} bytes)"}
    return jsonify(error=messages.get(error.code, error.description)), error.code


def _card() -> dict:
    return current_app.extensions["captioner"].model.card


def main() -> int:
    try:
        app = create_app()
    except CaptionerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", 5000)), debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

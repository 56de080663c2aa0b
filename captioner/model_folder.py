"""The model folder (``model/``): its file names, its card and the checksums in it, with no TensorFlow.

Everything that serves or reads a trained model (the lean runtime, the app, gunicorn's master, alt text,
scoring) reaches the folder through this module, which needs only the standard library; training writes the
networks (:mod:`captioner.train.model`) and then the card here. The files::

    caption_model.json              the decoders' architecture (Keras ``to_json``, shared by every member)
    caption_model.weights.h5        the first (or only) decoder's weights; caption_model_2... for an ensemble
    vocab.json                      the vocabulary, in index order
    encoder.onnx                    the image encoder for serving (:mod:`captioner.train.export`)
    objects.npz                     the encoder's ImageNet classifier and the concept probes (:mod:`captioner.guidance.recognition`)
    novelty.npz                     the training photos' feature statistics, for how unlike them a photo is
                                    (:mod:`captioner.guidance.novelty`)
    face_detector.onnx              MediaPipe's face and person detectors, evidence of a person
    pose_detector.onnx              (:mod:`captioner.guidance.people`; tools/make_person_detector.py writes them)
    text_detector.onnx              PP-OCRv4's text detector and recogniser, what reads the text in an image
    text_recogniser.onnx            (:mod:`captioner.reading`; tools/make_text_reader.py copies them)
    text_gate.npz                   which images to read: a probe over the encoder's features
                                    (:mod:`captioner.reading.gate`; tools/make_text_gate.py fits it)
    model_card.json                 what the model is, how it was trained and scored, and every file's SHA-256
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from . import CaptionerError
from .data import REPO_ROOT
from .io import damaged_files, file_digests, write_atomically

ARCHITECTURE_FILE = "caption_model.json"
WEIGHTS_FILE = "caption_model.weights.h5"  # the first (or only) decoder; an ensemble's others are numbered
VOCAB_FILE = "vocab.json"
CARD_FILE = "model_card.json"
ONNX_ENCODER_FILE = "encoder.onnx"
OBJECTS_FILE = "objects.npz"
NOVELTY_FILE = "novelty.npz"
FACE_DETECTOR_FILE = "face_detector.onnx"
POSE_DETECTOR_FILE = "pose_detector.onnx"
TEXT_DETECTOR_FILE = "text_detector.onnx"
TEXT_RECOGNISER_FILE = "text_recogniser.onnx"
TEXT_GATE_FILE = "text_gate.npz"
# Folders written before ensembles also carried a Keras copy of the encoder (20 MB for Lite2); they still load
# for training, and train removes them when it rewrites such a folder.
LEGACY_ENCODER_FILES = ("encoder.json", "encoder.weights.h5")  # architecture, weights


def member_weights_file(member: int) -> str:
    """``caption_model.weights.h5`` for the first member, ``caption_model_2.weights.h5`` and so on after it."""
    return WEIGHTS_FILE if member == 0 else WEIGHTS_FILE.replace(".weights.h5", f"_{member + 1}.weights.h5")


def decoder_weight_files(card: dict) -> list[str]:
    """The weight files of a model's decoders, as its card lists them (cards before ensembles named one)."""
    files = card.get("files", {}).get("weights", WEIGHTS_FILE)
    return [files] if isinstance(files, str) else list(files)


def decoding_defaults(chosen: dict | None) -> dict:
    """A card's ``decoding`` entry (the search chosen on the dev split) as beam width and length penalty;
    cards without one get beam 3 and no penalty, as before."""
    chosen = chosen or {}
    return {"beam": int(chosen.get("beam", 3)), "length_penalty": float(chosen.get("length_penalty", 0.0))}


def write_card(folder: str | Path, card: dict) -> dict:
    """Write the card last, with the size and SHA-256 of every file beside it, so loading can check them.

    Files are written atomically, so a killed run never leaves a truncated one; the digests also catch a
    file damaged or swapped later (an HDF5 or ONNX file with flipped bytes can load and give wrong captions).
    """
    folder = Path(folder)
    card = {**card, "checksums": file_digests(folder, exclude={CARD_FILE})}
    write_atomically(folder / CARD_FILE, json.dumps(card, indent=2).encode())
    return card


def load_card(folder: str | Path, verify: bool = True) -> dict:
    """The model card; with ``verify``, also check the files it records (all present, none changed)."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise CaptionerError(f"no trained model in {folder} (missing {CARD_FILE}); train one or pass --model DIR")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        card["encoder"]["name"]
        recorded = dict(card.get("checksums", {}))
        problems = damaged_files(Path(folder), recorded) if verify else []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CaptionerError(f"unreadable model card {path}: {error}") from None
    if problems:
        raise CaptionerError(f"the model in {folder} is incomplete or damaged: {'; '.join(problems)}")
    return card


def load_onnx(path: str | Path, options, what: str):
    """An ONNX Runtime session on the CPU over the model folder's file ``path`` (``options``: the caller's
    ``SessionOptions``); a CaptionerError that names ``what`` where the file cannot be loaded."""
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...), not OSError
        raise CaptionerError(f"cannot load {what} {path}: {str(error).splitlines()[0]}") from None


def default_model_dir() -> Path:
    """``$CAPTIONER_MODEL``, or the shipped ``model/``."""
    return Path(os.environ.get("CAPTIONER_MODEL", REPO_ROOT / "model"))


@contextmanager
def exit_on_model_error():
    """For servers: a CaptionerError becomes one ``error:`` line and exit status 4, gunicorn's "App failed to
    load": the master halts instead of respawning workers that would fail the same way, so a bad deploy shows
    up as a crashed dyno with the reason in its log."""
    try:
        yield
    except CaptionerError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(4) from None

"""The stages joined up: what the CLI and the notebook run, so neither holds logic of its own.

``train_captioner`` goes data -> text -> features -> model -> ``model/`` (with the ONNX encoder the lean
runtime serves); ``Captioner`` (from :mod:`captioner.serving`) captions
photos with a trained folder and the encoder its card names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import CaptionerError
from .data import CaptionSet, load_captions
from .encoders import build_encoder, get_encoder_spec, save_encoder
from .export import export_onnx_encoder
from .features import extract_features
from .images import load_rgb
from .model import (
    CaptionModel,
    ModelConfig,
    TrainConfig,
    build_model,
    caption_examples,
    model_card,
    save_model,
    train_model,
    write_card,
)
from .serving import Captioner  # noqa: F401  (re-exported: the notebook and CLI caption through it)
from .text import Vocabulary, clean_caption


def tokenize(captions: dict[str, list[str]]) -> dict[str, list[list[str]]]:
    """Clean every caption of every image; captions with no word left are dropped."""
    tokenized = {}
    for name, texts in captions.items():
        tokenized[name] = [tokens for tokens in map(clean_caption, texts) if tokens]
    return tokenized


def split_images(data: CaptionSet, split: str, limit: int | None = None) -> list[str]:
    """The split's images in file order, the first ``limit`` of them if given."""
    names = data.split(split)
    if limit is not None:
        if limit < 1:
            raise CaptionerError(f"--limit must be at least 1, got {limit}")
        names = names[:limit]
    if not names:
        raise CaptionerError(f"split {split!r} has no usable images in {data.root}")
    return names


@dataclass
class TrainingRun:
    """Everything a training run produced, for the notebook to show."""

    model: CaptionModel
    history: dict
    features: dict[str, np.ndarray] = field(repr=False)
    train_images: list[str] = field(repr=False)
    dev_images: list[str] = field(repr=False)


def train_captioner(
    data_root: str | Path | None,
    out_dir: str | Path,
    encoder_name: str,
    *,
    limit: int | None = None,
    dev_limit: int | None = None,
    min_count: int = 5,
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    cache_dir: Path | None = None,
    verbose: int = 1,
) -> TrainingRun:
    """Train a merge captioner on the train split, stop on the dev split, save it to ``out_dir``."""
    spec = get_encoder_spec(encoder_name)
    data = load_captions(data_root)
    train_images = split_images(data, "train", limit)
    dev_images = split_images(data, "dev", dev_limit if dev_limit is not None else _dev_share(limit))
    tokenized = tokenize(data.captions)
    vocab = Vocabulary.build((c for name in train_images for c in tokenized[name]), min_count=min_count)
    if verbose:
        print(f"vocabulary: {len(vocab)} words seen {min_count}+ times; longest caption {vocab.max_length} tokens")

    encoder = build_encoder(encoder_name)
    features = extract_features(
        encoder, {n: data.image_path(n) for n in train_images + dev_images}, cache_dir, progress=bool(verbose)
    )
    train = caption_examples(train_images, features, tokenized, vocab)
    dev = caption_examples(dev_images, features, tokenized, vocab)

    network = build_model(len(vocab), spec.feature_size, model_config)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    history = train_model(network, train, dev, train_config, checkpoint_dir=out_dir / "checkpoints", verbose=verbose)
    card = model_card(
        encoder=spec.card(),
        vocab=vocab,
        model_config=model_config,
        train_config=train_config,
        data={
            "root": data.root.name,
            "train_images": len(train_images),
            "train_captions": len(train.token_ids),
            "dev_images": len(dev_images),
        },
        history=history,
        training_seconds=time.perf_counter() - started,
    )
    save_model(network, vocab, card, out_dir)
    save_encoder(encoder, out_dir)
    sample = [data.image_path(n) for n in dev_images[:4]]
    export_onnx_encoder(encoder, out_dir, np.stack([load_rgb(p, (spec.input_size,) * 2) for p in sample]))
    card = write_card(out_dir, card)  # again, now that the encoder files are there too
    _remove_checkpoints(out_dir / "checkpoints")
    return TrainingRun(CaptionModel(network, vocab, card), history, features, train_images, dev_images)


def _dev_share(limit: int | None) -> int | None:
    """With a training subset, a dev subset a quarter its size (at least 10 images) keeps runs quick."""
    return None if limit is None else max(10, limit // 4)


def _remove_checkpoints(folder: Path) -> None:
    """The finished model is saved; the resume state of the run is no longer needed."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)

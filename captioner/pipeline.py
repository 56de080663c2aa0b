"""The stages joined up: what the CLI and the notebook run, so neither holds logic of its own.

``train_captioner`` goes data -> text -> features -> model -> ``model/``; ``Captioner`` captions
photos with a trained folder and the encoder its card names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import CaptionerError
from .data import CaptionSet, load_captions
from .decode import beam_search, caption_text
from .encoders import Encoder, build_encoder, get_encoder_spec, load_encoder, save_encoder
from .features import extract_features
from .images import MAX_PIXELS, ImageError, load_rgb
from .model import (
    WEIGHTS_FILE,
    CaptionModel,
    ModelConfig,
    TrainConfig,
    build_model,
    caption_examples,
    load_model,
    model_card,
    save_model,
    train_model,
)
from .numpy_decoder import NumpyMergeDecoder
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
    _remove_checkpoints(out_dir / "checkpoints")
    return TrainingRun(CaptionModel(network, vocab, card), history, features, train_images, dev_images)


def _dev_share(limit: int | None) -> int | None:
    """With a training subset, a dev subset a quarter its size (at least 10 images) keeps runs quick."""
    return None if limit is None else max(10, limit // 4)


def _remove_checkpoints(folder: Path) -> None:
    """The finished model is saved; the resume state of the run is no longer needed."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class CaptionResult:
    source: str
    caption: str | None = None
    candidates: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


class Captioner:
    """Captions photos with a trained model folder, using the encoder its model card names.

    Decoding runs in NumPy over the saved weights (:mod:`captioner.numpy_decoder`), carrying the LSTM
    state from word to word; it gives the Keras network's words (a test checks it on real data).
    """

    def __init__(self, model_dir: str | Path, encoder: Encoder | None = None):
        self.model = load_model(model_dir)
        self.encoder = encoder or load_encoder(Path(model_dir), self.model.encoder_name)
        self.stepper = NumpyMergeDecoder.from_file(Path(model_dir) / WEIGHTS_FILE)

    def warm_up(self) -> None:
        """Run one blank photo through, so the first real request does not pay for graph tracing (~0.8 s)."""
        side = self.encoder.spec.input_size
        self.caption_features(self.encoder.encode(np.zeros((1, side, side, 3), np.uint8)), beam_size=1)

    def caption_features(
        self, features: np.ndarray, beam_size: int = 1, length_penalty: float = 0.0
    ) -> list[list[tuple[str, float]]]:
        """For each image, its candidate captions with their log-probabilities, best first."""
        results = beam_search(self.stepper, features, self.model.vocab.max_length, beam_size, length_penalty)
        return [[(caption_text(c.ids, self.model.vocab), c.log_prob) for c in candidates] for candidates in results]

    def caption_image(self, data: bytes, beam_size: int = 3, length_penalty: float = 0.0,
                      max_pixels: int = MAX_PIXELS) -> dict:
        """One photo's caption, its beam candidates and where the time went; ImageError for bad bytes."""
        started = time.perf_counter()
        pixels = load_rgb(data, (self.encoder.spec.input_size,) * 2, max_pixels)
        decoded = time.perf_counter()
        features = self.encoder.encode(pixels[None])
        encoded = time.perf_counter()
        candidates = self.caption_features(features, beam_size, length_penalty)[0]
        done = time.perf_counter()
        milliseconds = lambda a, b: round((b - a) * 1000, 1)  # noqa: E731
        return {
            "caption": candidates[0][0],
            "candidates": [{"caption": text, "log_prob": round(log_prob, 4)} for text, log_prob in candidates],
            "timing_ms": {
                "decode_image": milliseconds(started, decoded),
                "encode": milliseconds(decoded, encoded),
                "caption": milliseconds(encoded, done),
                "total": milliseconds(started, done),
            },
        }

    def caption_sources(
        self, sources: Sequence[str | Path | bytes], batch_size: int = 32, beam_size: int = 1
    ) -> Iterable[CaptionResult]:
        """Caption paths or bytes in batches; an unreadable one gets an error, the rest still a caption."""
        size = (self.encoder.spec.input_size,) * 2
        for start in range(0, len(sources), batch_size):
            results, pixels = [], []
            for source in sources[start:start + batch_size]:
                label = source if not isinstance(source, bytes) else "<bytes>"
                try:
                    pixels.append(load_rgb(source, size))
                    results.append(CaptionResult(str(label)))
                except ImageError as error:
                    results.append(CaptionResult(str(label), error=str(error)))
            good = [r for r in results if r.error is None]
            if good:
                candidates = self.caption_features(self.encoder.encode(np.stack(pixels)), beam_size)
                for result, image_candidates in zip(good, candidates):
                    result.caption = image_candidates[0][0]
                    result.candidates = image_candidates
            yield from results

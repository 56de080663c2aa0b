"""Captioning a split and scoring it the way the papers do (the measures: :mod:`captioner.metrics`), and choosing
the default search on dev by those scores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import CaptionerError
from .data import load_captions, split_images
from .features import extract_features
from .guidance.concepts import OBJECT_GROUPS, named_by
from .images import load_rgb
from .metrics import chair, concept_f1, people_figures, score_captions
from .model_folder import load_card, write_card
from .serving import Captioner

# Concepts reported per split: those its references name on at least this many photos.
CONCEPT_MIN_PHOTOS = 5
METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")


# What the shipped model must reach on the test split, for choosing its decoding on dev.
TARGETS = {"bleu_1": 0.62, "bleu_4": 0.20, "meteor": 0.20, "cider": 0.52}


def evaluate_model(
    model_dir: str | Path,
    data_root: str | Path | None = None,
    split: str = "test",
    beam_size: int | None = None,
    length_penalty: float | None = None,
    limit: int | None = None,
    cache_dir: Path | None = None,
    samples: int = 10,
    meteor: bool = True,
    captioner: Captioner | None = None,
    guided: bool = True,
) -> dict:
    """Caption every image of a split with a trained model and score the captions.

    Beam width and length penalty default to those the model card records; captions are guided
    (:mod:`captioner.guidance`) where the model folder has an object recogniser, unless ``guided`` is False.
    Besides the coco-caption scores: invented people, CHAIR and each concept's F1 (:mod:`captioner.metrics`).
    """
    if beam_size is not None and beam_size < 1:
        raise CaptionerError(f"beam width must be at least 1, got {beam_size}")
    captioner = captioner or Captioner(model_dir)
    beam_size, length_penalty = captioner.search_settings(beam_size, length_penalty)
    data = load_captions(data_root)
    names = split_images(data, split, limit)
    features = extract_features(captioner.encoder, {n: data.image_path(n) for n in names}, cache_dir, progress=False)
    names = [n for n in names if n in features]
    started = time.perf_counter()
    size = (captioner.encoder.spec.input_size,) * 2
    results = captioner.describe_features(np.stack([features[n] for n in names]), names, beam_size, length_penalty,
                                          guided=guided, pixels=lambda row: load_rgb(data.image_path(names[row]), size))
    seconds = time.perf_counter() - started
    captions = {result.source: result.caption for result in results}
    references = [data.captions[n] for n in names]
    named = [named_by(refs) for refs in references]
    scores = score_captions(captions, dict(zip(names, references)), meteor=meteor)
    listed = [captions[n] for n in names]
    return {
        **{k: round(scores[k], 4) for k in METRICS if k in scores},
        "distinct_captions": round(len(set(captions.values())) / len(captions), 4),
        "guided": guided and captioner.guidance is not None,
        "people": people_figures(listed, references),
        **chair(listed, named),
        "concepts": {c: concept_f1(listed, named, c) for c in OBJECT_GROUPS if c != "person"
                     and sum(c in n for n in named) >= CONCEPT_MIN_PHOTOS},
        "unsure": round(float(np.mean([bool(r.guidance and r.guidance.unsure) for r in results])), 4),
        "images": len(names),
        "split": split,
        "beam": beam_size,
        "length_penalty": length_penalty,
        "encoder": captioner.encoder_name,
        "decode_seconds": round(seconds, 1),
        "samples": [
            {"image": n, "caption": captions[n], "references": data.captions[n]} for n in names[:samples]
        ],
        "per_image": {n: {"caption": captions[n], "cider": scores["per_image_cider"][n]} for n in names},
    }


def record_metrics(model_dir: str | Path, key: str, result: dict) -> None:
    """Store a result (without its samples) under ``metrics[key]`` in the model card, atomically."""
    card = load_card(model_dir)
    card.setdefault("metrics", {})[key] = {k: v for k, v in result.items() if k not in ("samples", "per_image")}
    write_card(model_dir, card)


def choose_decoding(results: Sequence[dict], targets: dict[str, float] = TARGETS) -> dict:
    """The result, of several decoding settings scored on the dev split, that clears every target by the
    widest margin: the largest ``min(score / target)``. Ties go to the earlier (cheaper) setting.

    One number such as CIDEr alone would pick long captions that lose BLEU-1; the targets ask for all four.
    """
    if not results:
        raise CaptionerError("no decoding settings to choose from")
    return max(results, key=lambda result: min(result[k] / target for k, target in targets.items()))


def record_decoding(model_dir: str | Path, result: dict) -> None:
    """Make a result's beam width and length penalty the model's defaults (the app, CLI and evaluation use them)."""
    card = load_card(model_dir)
    card["decoding"] = {"beam": int(result["beam"]), "length_penalty": float(result["length_penalty"]),
                        "chosen_on": result["split"]}
    write_card(model_dir, card)


def format_scores(result: dict) -> str:
    """One line a person can read: ``BLEU-1 0.612  BLEU-4 0.201 ...``."""
    labels = {"bleu_1": "BLEU-1", "bleu_2": "BLEU-2", "bleu_3": "BLEU-3", "bleu_4": "BLEU-4", "meteor": "METEOR",
              "rouge_l": "ROUGE-L", "cider": "CIDEr"}
    parts = [f"{labels[k]} {result[k]:.3f}" for k in METRICS if k in result]
    parts.append(f"distinct {result['distinct_captions']:.0%}")
    if "people" in result:
        people = result["people"]
        parts.append(f"invented people {people['invented_person']:.1%} of {people['no_person_photos']}, people still "
                     f"named {people['person_still_named']:.1%}  CHAIR-i {result['chair_i']:.3f} CHAIR-s "
                     f"{result['chair_s']:.3f}")
    return "  ".join(parts)

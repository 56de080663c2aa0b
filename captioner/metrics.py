"""How good a split's captions are: what evaluation reports and what guidance is fitted to, in one place.

``score_captions`` is the coco-caption toolkit (``pycocoevalcap``): its PTB tokenizer, BLEU-1..4, METEOR 1.5,
ROUGE-L and CIDEr-D, so figures compare with published Flickr8k results. References are cleaned as the
training captions are (lower-case alphabetic tokens) before tokenizing; the tokenizer and METEOR run on Java.
The rest read which things a caption names (:mod:`captioner.guidance.concepts`): invented people, CHAIR
(Rohrbach et al., EMNLP 2018), one concept's F1 (DCC's measure) and the correctness the confidence is
calibrated to.
"""

from __future__ import annotations

import shutil
from typing import Sequence

import numpy as np

from . import CaptionerError
from .guidance.concepts import names_person, objects_named
from .text import clean_caption


def score_captions(candidates: dict[str, str], references: dict[str, list[str]], meteor: bool = True) -> dict:
    """coco-caption scores of one candidate per image against its references."""
    if shutil.which("java") is None:
        raise CaptionerError("scoring needs Java for the PTB tokenizer and METEOR: apt-get install default-jre-headless")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    names = sorted(candidates)
    tokenizer = PTBTokenizer()
    refs = tokenizer.tokenize({n: [{"caption": " ".join(clean_caption(r))} for r in references[n]] for n in names})
    # An empty candidate would crash METEOR; it scores as the single word it is not.
    cands = tokenizer.tokenize({n: [{"caption": candidates[n] or "<empty>"}] for n in names})
    bleu, _ = Bleu(4).compute_score(refs, cands, verbose=0)
    scores = {f"bleu_{i + 1}": float(b) for i, b in enumerate(bleu)}
    scores["rouge_l"] = float(Rouge().compute_score(refs, cands)[0])
    cider, per_image = Cider().compute_score(refs, cands)
    scores["cider"] = float(cider)
    # Cider keeps the order of the dict it was given, which is ``names`` (sorted).
    scores["per_image_cider"] = {n: round(float(c), 4) for n, c in zip(refs, per_image)}
    if meteor:
        scorer = Meteor()
        try:
            scores["meteor"] = float(scorer.compute_score(refs, cands)[0])
        finally:
            scorer.close() if hasattr(scorer, "close") else None
    return scores


def people_figures(captions: Sequence[str], references: Sequence[list[str]]) -> dict:
    """Invented people (CHAIR-style): among photos none of whose references names a person, the share whose
    caption does; and among photos every reference of which names one, the share whose caption still does."""
    ref_counts = [sum(names_person(clean_caption(r)) for r in refs) for refs in references]
    says = [names_person(c.split()) for c in captions]
    none = [s for s, k in zip(says, ref_counts) if k == 0]
    every = [s for s, k, refs in zip(says, ref_counts, references) if k == len(refs)]
    return {
        "no_person_photos": len(none),
        "invented_person": round(sum(none) / max(len(none), 1), 4),
        "person_photos": len(every),
        "person_still_named": round(sum(every) / max(len(every), 1), 4),
    }


def chair(captions: Sequence[str], named: Sequence[set[str]]) -> dict:
    """CHAIR-i (named objects absent from every reference, over all named objects) and CHAIR-s (captions with
    one), over :data:`captioner.guidance.concepts.OBJECT_GROUPS`."""
    said = [objects_named(c.split()) for c in captions]
    wrong = [s - n for s, n in zip(said, named)]
    total = sum(len(s) for s in said)
    return {"chair_i": round(sum(len(w) for w in wrong) / max(total, 1), 4),
            "chair_s": round(sum(bool(w) for w in wrong) / max(len(said), 1), 4)}


def concept_f1(captions: Sequence[str], named: Sequence[set[str]], concept: str) -> dict:
    """F1 of a caption naming ``concept`` against any reference naming it (DCC's measure)."""
    said = np.array([concept in objects_named(c.split()) for c in captions])
    truth = np.array([concept in n for n in named])
    hits = int((said & truth).sum())
    precision, recall = hits / max(said.sum(), 1), hits / max(truth.sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"photos": int(truth.sum()), "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def caption_correct(caption: str, named: set[str]) -> bool:
    """The label confidence is calibrated to: the caption names nothing no reference names, and (when the
    references name anything) something they do."""
    said = objects_named(caption.split())
    return said <= named and (bool(said & named) or not named)


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """How well a score tells ``outside`` from ``inside``: the chance that an outside one scores higher (ties half)."""
    scores = np.concatenate([inside, outside]).astype(np.float64)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    for start, count in zip(first, counts):  # tied scores share their average rank
        if count > 1:
            ranks[order[start:start + count]] = ranks[order[start:start + count]].mean()
    outside_ranks = ranks[len(inside):].sum()
    return float((outside_ranks - len(outside) * (len(outside) + 1) / 2) / (len(inside) * len(outside)))


def risk_coverage(confidence: np.ndarray, right: np.ndarray, risk_limit: float = 0.10) -> dict:
    """Selective prediction (Geifman and El-Yaniv, NeurIPS 2017): answers kept from the most confident down, the
    share of them wrong (the selective risk) at every coverage; its area (AURC, lower is better) and the largest
    coverage whose risk is at most ``risk_limit``."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    wrong = ~np.asarray(right, bool)[order]
    kept = np.arange(1, len(order) + 1)
    risk, coverage = np.cumsum(wrong) / kept, kept / len(order)
    within = coverage[risk <= risk_limit]
    return {"aurc": round(float(risk.mean()), 4), "coverage_at_risk": round(float(within.max()), 4) if len(within)
            else 0.0, "risk_limit": risk_limit, "coverage": coverage, "risk": risk}

"""Experiment: why a decoder that never saw some concepts still misses them when guided, and whether a lower
tag threshold would help.

    .venv/bin/python -m captioner train --recipe held_out --out runs/heldout && \
        .venv/bin/python -m captioner guide --model runs/heldout        # label probes, thresholds on dev
    .venv/bin/python -m experiments.held_out_failures --model runs/heldout [--split test] \
        [--thresholds 0.5 0.4 0.3 0.2]

For each photo of the split whose references name a held-out concept (the card's ``held_out_concepts``), it says
whether the served caption names it and, if not, why: the concept's probability was below the tag threshold, or
another thing outranked it as the one tag a caption is made to name, or it was the tag and the search could not
say it. Then the held-out concepts' F1 (precision / recall) at each tag threshold. Choose on dev; report on test.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
from pathlib import Path

import numpy as np

from captioner.data import load_captions
from captioner.guidance.concepts import objects_named
from captioner.guidance.fitting import decode_with, split_data
from captioner.metrics import concept_f1
from captioner.serving import Captioner


def why_missed(probabilities: dict[str, float], threshold: float, caption: str, tried, concept: str) -> str:
    """named, below threshold, outranked (by the tag tried) or tag tried, not said."""
    if concept in objects_named(caption.split()):
        return "named"
    if probabilities.get(concept, 0.0) < threshold:
        return "below threshold"
    return "tag tried, not said" if tried is not None and tried.word == concept else "outranked"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/heldout"))
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.4, 0.3, 0.2])
    args = parser.parse_args()

    captioner = Captioner(args.model)
    held = captioner.card["data"].get("held_out_concepts", [])
    data = split_data(captioner, load_captions(None), args.split)
    served = decode_with(captioner, data, captioner.guidance.config)
    # every thing's probability, not only the shown five
    seen = captioner.guidance.top_objects(captioner.guidance.recognise(data.features), top=40)
    threshold = captioner.guidance.config.tag_threshold
    reasons = collections.Counter()
    for result, named, objects in zip(served, data.named, seen):
        probabilities = {o.word: o.probability for o in objects}
        for concept in held:
            if concept in named:
                reasons[why_missed(probabilities, threshold, result.caption, result.guidance.tried, concept)] += 1
    print(f"{args.split}: photo-concept pairs by outcome at the card's threshold: {dict(reasons.most_common())}")
    for threshold in args.thresholds:
        guidance = dataclasses.replace(captioner.guidance.config, tag_threshold=threshold)
        captions = [r.caption for r in decode_with(captioner, data, guidance)]
        scores = {c: concept_f1(captions, data.named, c) for c in held}
        print(f"tag threshold {threshold}: mean F1 {np.mean([s['f1'] for s in scores.values()]):.3f}; " +
              ", ".join(f"{c} {s['f1']:.2f} ({s['precision']:.2f} / {s['recall']:.2f})" for c, s in scores.items()))


if __name__ == "__main__":
    main()

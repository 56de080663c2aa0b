"""Experiment: which person probe invents fewest people at the person-word ban's threshold.

    .venv/bin/python -m experiments.person_probe_experiment [--model model] [--still-named 0.97 0.955]

The ban (:mod:`captioner.guide`) removes person words from the search where the person probe is below its
threshold. The shipped probe learned "any of the photo's five references names a person"; but a caption should
name a person where most references do, and the figures count photos none (invented) or all (still named) of
whose references do. So this fits the probe to other targets on the train split's features: the share of
references naming a person (a soft label), or "at least k of 5 do". For each, on dev, at the highest threshold
that keeps the given share of photos with people still named, it prints the invented-people rate. Bans act photo
by photo, so two decodings of dev (plain, and banned everywhere) give every probe's and threshold's captions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from captioner.concepts import names_person
from captioner.data import load_captions
from captioner.fit_guidance import decode_with, people_figures, per_photo, split_data
from captioner.guide import Guidance
from captioner.objects import PROBE_L2, _sigmoid, fit_logistic
from captioner.serving import Captioner
from captioner.text import clean_caption


def person_share(references: dict[str, list[str]], names: list[str]) -> np.ndarray:
    return np.array([np.mean([names_person(clean_caption(r)) for r in references[n]]) for n in names])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--still-named", type=float, nargs="+", default=[0.97, 0.955])
    args = parser.parse_args()
    captioner = Captioner(args.model)
    data = load_captions()
    train, dev = (split_data(captioner, data, split) for split in ("train", "dev"))
    share = person_share(train.references, train.names)
    targets = {"any reference (shipped)": share > 0, "share of references (soft)": share,
               "at least 2 of 5": share >= 0.4, "at least 3 of 5": share >= 0.6}

    plain_results = decode_with(captioner, dev, Guidance(tag_threshold=2.0, person_threshold=0.0))
    banned_results = decode_with(captioner, dev, Guidance(tag_threshold=2.0, person_threshold=2.0))
    plain, banned = [r.caption for r in plain_results], [r.caption for r in banned_results]
    references = [dev.references[n] for n in dev.names]
    print(f"dev, no ban: {people_figures(plain, references)}")
    # The decoder's own doubt: how much less probable (per word) its best caption without a person is.
    per_word = lambda r: r.candidates[0][1] / (len(r.caption.split()) + 1)  # noqa: E731
    doubt = np.array([per_word(a) - per_word(b) for a, b in zip(plain_results, banned_results)])
    shipped = captioner.guide.person_probability(dev.features)
    for still in args.still_named:
        best = None
        for threshold in np.round(np.arange(0.5, 0.96, 0.02), 2):
            for margin in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
                ban = (shipped < threshold) | (doubt < margin)
                figures = people_figures(per_photo(ban, banned, plain), references)
                if figures["person_still_named"] >= still and (best is None or figures["invented_person"] < best[2]["invented_person"]):
                    best = (threshold, margin, figures)
        print(f"shipped probe or the decoder's doubt, still named >= {still}: {best}")
    for label, target in targets.items():
        for l2 in (PROBE_L2, 3 * PROBE_L2):
            weights, bias = fit_logistic(train.features, target, l2=l2)
            probability = _sigmoid(dev.features.astype(np.float64) @ weights + bias)
            rows = []
            for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
                captions = per_photo(probability < threshold, banned, plain)
                rows.append((threshold, people_figures(captions, references)))
            for still in args.still_named:
                allowed = [(t, f) for t, f in rows if f["person_still_named"] >= still]
                t, figures = max(allowed, key=lambda row: row[0]) if allowed else (0.0, rows[0][1])
                print(f"{label:28s} L2 {l2:5.1f}  still named >= {still}: threshold {t:.2f}, invented "
                      f"{figures['invented_person']:.4f} of {figures['no_person_photos']}, still named "
                      f"{figures['person_still_named']:.4f}")


if __name__ == "__main__":
    main()

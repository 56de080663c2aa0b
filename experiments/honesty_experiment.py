"""Experiment: does the model know when it does not know? Novelty, person evidence, wording, on three sets.

    .venv/bin/python -m experiments.honesty_experiment [--model model] [--split dev]          # as recorded
    .venv/bin/python -m experiments.honesty_experiment --sweep                                 # choose, on dev
    .venv/bin/python -m experiments.honesty_experiment --split test                            # report once

Three sets: a Flickr8k split (``dev`` to choose, ``test`` to report), ood-dev's everyday photos from elsewhere
(``harness/ood_dev.py``; checking and choosing thresholds only), and images that are not photos made with Pillow
(``harness/non_photos.py``, ``--seed``: 0 chooses the pixel rules, 1 checks them). Every answer comes from the
serving runtime with the pixels, as an upload's does. It prints:

- novelty's AUROC: the split against ood-dev, and against the non-photos;
- the split: the share unsure, BLEU-4 and CIDEr of the caption field as served (Java), people still named and
  invented (by the references, CHAIR-style, on the alt text and on the caption);
- ood-dev: confidently wrong (not unsure, and the alt text names no subject word or a person where there is none),
  and a person named (sure or not) on the photos without one;
- the non-photos: by kind, how many got a confident sentence, and any that names a person or an animal;
- the person threshold's trade-off, under the evidence rule: the split's people still named against ood-dev's
  photos without anyone that get one (captions);
- risk-coverage: selective risk against coverage when answers are kept from the most confident down (Geifman and
  El-Yaniv 2017), its area (AURC) and the coverage at 10% risk, on the split and on ood-dev. A Flickr8k answer is
  right by the calibration's label (``metrics.caption_correct``); an ood-dev one when it names a subject word and
  invents no one.

``--sweep`` decodes once per person rule and rewords for every confidence setting, and prints the settings that
meet the targets on dev and ood-dev together; ``--set NAME=VALUE`` tries one setting of the card's guidance.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np

from captioner.data import load_captions
from captioner.guidance.concepts import OBJECT_GROUPS
from captioner.guidance.fitting import split_data
from captioner.guidance.rules import GuidanceConfig
from captioner.images import load_rgb
from captioner.metrics import auroc, caption_correct, people_figures, risk_coverage, score_captions
from captioner.serving import CaptionResult, Captioner
from harness.non_photos import non_photos
from harness.ood_dev import confidently_wrong, names_a_person, names_subject, ood_photos, words_of

ANIMALS = set().union(*(OBJECT_GROUPS[g] for g in ("dog", "cat", "horse", "bird", "cow", "sheep")))


def reworded(result: CaptionResult, guidance, config: GuidanceConfig) -> CaptionResult:
    """The answer as ``config``'s confidence settings would word it (the caption and search unchanged)."""
    answer = result.guidance
    if answer is None or not answer.kind.photo:
        return result
    confidence, certainty, sure_of = guidance.how_sure(np.array(answer.evidence), answer.novelty, answer.objects,
                                                       config)
    new = dataclasses.replace(answer, confidence=confidence, certainty=certainty, sure_of=sure_of)
    return dataclasses.replace(result, guidance=new)


def answers_for(captioner: Captioner, features: np.ndarray, names: list[str], pixels, config: GuidanceConfig):
    return captioner.describe_features(features, names, config=config, pixels=pixels)


def split_figures(results: list[CaptionResult], split) -> dict:
    references = [split.references[n] for n in split.names]
    alt = [r.alt_text.lower() for r in results]
    captions = [r.caption for r in results]
    return {"unsure": round(float(np.mean([r.guidance.unsure for r in results])), 4),
            "hedged": round(float(np.mean([r.guidance.certainty == "hedged" for r in results])), 4),
            "people_caption": people_figures(captions, references),
            "people_alt_text": people_figures([" ".join(words_of(a)) for a in alt], references),
            **may_be_figures(results, [lambda thing, refs=refs: names_subject(" ".join(refs), (
                thing, *OBJECT_GROUPS.get(thing, ()))) for refs in references])}


def may_be_figures(results: list[CaptionResult], right_about: list) -> dict:
    """Unsure answers about photos, how many still say a thing ("May be a dog."), and of those how many are right
    (``right_about[i](thing)``)."""
    unsure = [(r.guidance.sure_of, right) for r, right in zip(results, right_about)
              if r.guidance.kind.photo and r.guidance.certainty == "unsure"]
    said = [(thing, right) for thing, right in unsure if thing]
    return {"unsure_photos": len(unsure), "may_be_said": len(said),
            "may_be_right": sum(right(thing) for thing, right in said)}


def ood_figures(results: list[CaptionResult], photos) -> dict:
    wrong = [confidently_wrong(r.alt_text, r.guidance.unsure, p) for r, p in zip(results, photos)]
    nobody = [(r, p) for r, p in zip(results, photos) if not p.people]
    return {"photos": len(photos), "confidently_wrong": int(sum(wrong)),
            "unsure": int(sum(r.guidance.unsure for r in results)),
            "person_in_alt_text_without_one": int(sum(names_a_person(r.alt_text) for r, _ in nobody)),
            "person_in_caption_without_one": int(sum(names_a_person(r.caption) for r, _ in nobody)),
            "without_people": len(nobody),
            **may_be_figures(results, [lambda thing, p=p: names_subject(thing, p.subject) for p in photos]),
            "confidently_wrong_photos": [p.name for p, w in zip(photos, wrong) if w]}


def non_photo_figures(results: list[CaptionResult], made) -> dict:
    kinds: dict[str, dict] = {}
    for result, image in zip(results, made):
        row = kinds.setdefault(image.kind, {"images": 0, "confident_sentence": 0, "person_or_animal": 0, "said": {}})
        row["images"] += 1
        if result.error:
            row["said"][f"refused: {result.error}"] = row["said"].get(f"refused: {result.error}", 0) + 1
            continue
        answer = result.guidance
        sentence_confident = answer.kind.photo and answer.certainty == "confident"
        row["confident_sentence"] += sentence_confident
        words = set(words_of(result.alt_text))
        row["person_or_animal"] += names_a_person(result.alt_text) or bool(words & ANIMALS)
        key = f"{answer.kind.kind}: {result.alt_text or '(empty)'}"
        row["said"][key] = row["said"].get(key, 0) + 1
    return kinds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--seed", type=int, default=0, help="which non-photos (0 chose the rules)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override the card's guidance")
    parser.add_argument("--sweep", action="store_true", help="try the person rules and confidence settings")
    parser.add_argument("--no-scores", action="store_true", help="skip BLEU and CIDEr (no Java needed)")
    args = parser.parse_args(argv)

    captioner = Captioner(args.model)
    guidance = captioner.guidance
    config = dataclasses.replace(guidance.config, **{k: float(v) for k, v in (s.split("=") for s in args.set)})
    data = load_captions(args.data)
    split = split_data(captioner, data, args.split)
    size = (captioner.encoder.spec.input_size,) * 2
    photos = ood_photos()
    ood_pixels = np.stack([load_rgb(p.path, size) for p in photos])
    ood_features = captioner.encoder.encode(ood_pixels)
    made = non_photos(args.seed)
    print(f"{args.split}: {len(split.names)} photos; ood-dev: {len(photos)}; non-photos (seed {args.seed}): "
          f"{len(made)}")

    novelty = {name: guidance.novelty.distance(f) for name, f in
               (("split", split.features), ("ood", ood_features))}
    made_results = list(captioner.caption_sources([m.encoded() for m in made], beam_size=None))
    made_features = [captioner.encoder.encode(load_rgb(m.encoded(), size)[None]) for m, r in zip(made, made_results)
                     if not r.error]
    novelty["non_photos"] = guidance.novelty.distance(np.concatenate(made_features))
    print(f"novelty AUROC: {args.split} vs ood-dev {auroc(novelty['split'], novelty['ood']):.3f}, vs non-photos "
          f"{auroc(novelty['split'], novelty['non_photos']):.3f}; at the distance that flags 5% of {args.split}: "
          f"ood-dev {np.mean(novelty['ood'] > np.quantile(novelty['split'], 0.95)):.0%}, non-photos "
          f"{np.mean(novelty['non_photos'] > np.quantile(novelty['split'], 0.95)):.0%}")

    if args.sweep:
        sweep(captioner, config, split, photos, ood_features, ood_pixels)
        return
    split_results = answers_for(captioner, split.features, split.names, split.pixels, config)
    ood_results = answers_for(captioner, ood_features, [p.name for p in photos], ood_pixels, config)
    figures = split_figures(split_results, split)
    if not args.no_scores:
        scores = score_captions({n: r.caption for n, r in zip(split.names, split_results)}, split.references,
                                meteor=False)
        figures.update(bleu_4=round(scores["bleu_4"], 4), cider=round(scores["cider"], 4))
    print(f"{args.split}: {figures}")
    print(f"ood-dev: {ood_figures(ood_results, photos)}")
    for row in person_curve(captioner, config, split, photos, ood_features, ood_pixels):
        print(f"  person threshold {row['person_threshold']}: {args.split} people still named "
              f"{row['still_named']:.1%}, ood-dev photos without anyone named one: {row['ood_named_without_anyone']}")
    for kind, row in non_photo_figures(made_results, made).items():
        print(f"  {kind}: {row}")
    right = np.array([caption_correct(r.caption, n) for r, n in zip(split_results, split.named)])
    ood_right = np.array([not confidently_wrong(r.alt_text, False, p) for r, p in zip(ood_results, photos)])
    for name, results, correct in ((args.split, split_results, right), ("ood-dev", ood_results, ood_right)):
        curve = risk_coverage(np.array([r.confidence for r in results]), correct)
        print(f"risk-coverage, {name}: AURC {curve['aurc']}, coverage at 10% risk {curve['coverage_at_risk']}, "
              f"{correct.mean():.0%} right in all; risk at coverage 0.25/0.5/0.75/1: "
              f"{[round(float(curve['risk'][int(c * len(correct)) - 1]), 3) for c in (0.25, 0.5, 0.75, 1.0)]}")


def person_curve(captioner: Captioner, config: GuidanceConfig, split, photos, ood_features, ood_pixels) -> list[dict]:
    """The person threshold's trade-off under the evidence rule: for each threshold, the split's photos with people
    whose caption still names one, and ood-dev's photos without anyone whose caption names someone. Bans act photo
    by photo, so two decodings of each set (no ban, person words banned) give every threshold's captions."""
    guidance = captioner.guidance
    sets = {"split": (split.features, split.names, split.pixels), "ood": (ood_features, [p.name for p in photos],
                                                                         ood_pixels)}
    decoded = {}
    for name, (features, names, pixels) in sets.items():
        free = answers_for(captioner, features, names, pixels, dataclasses.replace(
            config, person_threshold=0.0, typical_novelty=1.0))
        banned = answers_for(captioner, features, names, pixels, dataclasses.replace(
            config, person_threshold=2.0, person_detected_threshold=2.0))
        seen = guidance.recognise(features)
        detected = guidance.detect_people(seen, dataclasses.replace(config, person_threshold=2.0), pixels)
        decoded[name] = (free, banned, seen, detected)
    references = [split.references[n] for n in split.names]
    rows = []
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
        trial = dataclasses.replace(config, person_threshold=threshold)
        said = {}
        for name, (free, banned, seen, detected) in decoded.items():
            allowed = guidance.person_allowed(seen, trial, detected)
            said[name] = [a.caption if ok else b.caption for ok, a, b in zip(allowed, free, banned)]
        rows.append({"person_threshold": threshold,
                     "still_named": people_figures(said["split"], references)["person_still_named"],
                     "ood_named_without_anyone": sum(names_a_person(c) for c, p in zip(said["ood"], photos)
                                                     if not p.people)})
    return rows


PERSON_RULES = [dict(typical_novelty=t, person_threshold=p, person_detected_threshold=d)
                for t, p, d in itertools.product((0.8, 0.85, 0.9), (0.85, 0.9), (0.5, 0.6))]
WORDINGS = [dict(rare_share=r, confidence_threshold=c, sure_threshold=s, sure_thing_threshold=t)
            for r, c, s, t in itertools.product((0.02, 0.05, 0.1, 0.2), (0.3, 0.4, 0.5), (0.5, 0.6, 0.7, 0.8),
                                                (0.3, 0.5)) if s >= c]


def sweep(captioner: Captioner, config: GuidanceConfig, split, photos, ood_features, ood_pixels) -> None:
    """Each person rule decoded once; every wording of it scored; the settings meeting the targets printed."""
    guidance = captioner.guidance
    rows = []
    for rule in PERSON_RULES:
        base = dataclasses.replace(config, **rule)
        split_results = answers_for(captioner, split.features, split.names, split.pixels, base)
        ood_results = answers_for(captioner, ood_features, [p.name for p in photos], ood_pixels, base)
        for wording in WORDINGS:
            trial = dataclasses.replace(base, **wording)
            dev = [reworded(r, guidance, trial) for r in split_results]
            ood = [reworded(r, guidance, trial) for r in ood_results]
            figures = split_figures(dev, split)
            outside = ood_figures(ood, photos)
            rows.append({**rule, **wording, "unsure": figures["unsure"],
                         "still_named": figures["people_caption"]["person_still_named"],
                         "invented": figures["people_caption"]["invented_person"],
                         "ood_wrong": outside["confidently_wrong"],
                         "ood_person": outside["person_in_alt_text_without_one"],
                         "ood_person_caption": outside["person_in_caption_without_one"]})
    meets = [r for r in rows if r["unsure"] <= 0.10 and r["still_named"] >= 0.95]
    print(f"{len(rows)} settings; {len(meets)} keep dev unsure <= 10% and people still named >= 95%; best on ood-dev:")
    for row in sorted(meets, key=lambda r: (r["ood_wrong"] + r["ood_person"], r["unsure"]))[:25]:
        print(" ", row)


if __name__ == "__main__":
    main()

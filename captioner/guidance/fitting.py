"""Fitting what guided captions need: the concept probes on the train split, thresholds and calibration on dev.

    fit_probes(model_dir)        objects.npz: the encoder's ImageNet classifier and one probe per concept
    choose_guidance(model_dir)   the thresholds and the confidence calibration, into the card's ``guidance``

Both run on cached features (:mod:`captioner.features`) with the model's own serving runtime, so what is
chosen is what serving does. Every figure here is on Flickr8k's dev split; the test split is only scored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import CaptionSet, load_captions, split_images
from ..features import extract_features
from ..images import load_rgb
from ..metrics import caption_correct, chair, concept_f1, people_figures, score_captions
from ..model_folder import NOVELTY_FILE, OBJECTS_FILE, load_card, write_card
from ..serving import Captioner, CaptionResult
from .concepts import OBJECT_GROUPS, named_by, without_concepts
from .novelty import SHRINKAGE, NoveltyIndex
from .recognition import ObjectRecogniser, fit_concept_probes, imagenet_classifier
from .rules import GuidanceConfig, fit_calibration

# What a person-word ban may cost: at most this share of the dev photos with people whose plain caption names
# one (the 97% once required of the cross-entropy ensemble, whose plain captions name 98.4%), and never more
# than leaves the 95% the product promises. Relative, because a decoder that names people less often to begin with (the
# self-critical one: 96.8%) would otherwise get no ban at all, and the ban is what keeps people out of photos
# unlike Flickr8k's.
PEOPLE_NAMED_LOSS = 0.015
PEOPLE_STILL_NAMED_FLOOR = 0.95
# A tag is named only where the tagger gives it at least even odds; above that, dev CIDEr chooses the threshold.
# (Lower thresholds forced more wrong objects: CHAIR-s 0.215 at 0.35 against 0.176 at 0.65, same CIDEr.)
LOWEST_TAG_THRESHOLD = 0.5
# How likely a probed thing must be for its words to be said (0: always); dev CIDEr chooses among these.
OBJECT_WORD_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
# Person evidence and wording, chosen on dev and ood-dev together (experiments/honesty_experiment.py --sweep):
# the probe alone lets person words through on photos no rarer than this share of Flickr8k dev's...
TYPICAL_NOVELTY = 0.9
# ...elsewhere a face or person detector must see someone, and the probe give at least this.
PERSON_DETECTED_THRESHOLD = 0.5
# How sure an answer must be to be said, and how rarity lowers it (GuidanceConfig's fields of the same names).
WORDING = {"rare_share": 0.1, "confidence_threshold": 0.4, "sure_threshold": 0.6, "sure_thing_threshold": 0.5,
           "sure_thing_support": 0.05}


@dataclass
class SplitData:
    names: list[str]
    features: np.ndarray
    references: dict[str, list[str]]
    paths: list[Path] = field(default_factory=list)
    input_size: int = 0  # the encoder's, for the pixels the pixel rules and the person detector read
    _pixels: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def named(self) -> list[set[str]]:
        """Each photo's concepts, as any of its references names them."""
        return [named_by(self.references[n]) for n in self.names]

    def pixels(self, row: int) -> np.ndarray:
        """One photo as the encoder gets it, loaded when first asked for and kept (decodings ask again)."""
        if row not in self._pixels:
            self._pixels[row] = load_rgb(self.paths[row], (self.input_size,) * 2)
        return self._pixels[row]


def split_data(captioner: Captioner, data: CaptionSet, split: str, cache_dir: Path | None = None,
               limit: int | None = None, leave_out: Sequence[str] = ()) -> SplitData:
    """A split's cached features and references; ``leave_out`` drops the photos naming those concepts."""
    names = without_concepts(split_images(data, split, limit), data.captions, leave_out)
    features = extract_features(captioner.encoder, {n: data.image_path(n) for n in names}, cache_dir, progress=False)
    names = [n for n in names if n in features]
    return SplitData(names, np.stack([features[n] for n in names]), {n: data.captions[n] for n in names},
                     [data.image_path(n) for n in names], captioner.encoder.spec.input_size)


def fit_probes(model_dir: str | Path, data_root: str | Path | None = None, cache_dir: Path | None = None,
                  concepts: Sequence[str] = tuple(OBJECT_GROUPS), limit: int | None = None) -> ObjectRecogniser:
    """Fit one probe per concept on the train split's features (its first ``limit`` photos, if given: a decoder
    trained on a subset gets probes from the same subset) and save them beside the ImageNet classifier."""
    captioner = Captioner(model_dir, load_guidance=False)  # what it writes replaces what is there
    train = split_data(captioner, load_captions(data_root), "train", cache_dir, limit)
    concepts = ["person", *[c for c in concepts if c != "person"]]
    kernel, bias = fit_concept_probes(train.features, train.named, concepts)
    recogniser = ObjectRecogniser(*imagenet_classifier(captioner.encoder_name), kernel, bias, concepts)
    recogniser.save(Path(model_dir) / OBJECTS_FILE)
    card = load_card(model_dir, verify=False)
    card["objects"] = {"file": OBJECTS_FILE, "concepts": concepts, "probes_fitted_on": "train",
                       "classifier": f"{captioner.encoder_name}'s ImageNet-1k layer"}
    write_card(model_dir, card)  # with the new file's checksum
    return recogniser


def fit_novelty(model_dir: str | Path, data_root: str | Path | None = None, cache_dir: Path | None = None,
                limit: int | None = None) -> NoveltyIndex:
    """The novelty index of the model's training photos (those it was trained on: held-out concepts' left out),
    with the dev photos' distances as its scale, saved as ``novelty.npz``."""
    captioner = Captioner(model_dir, load_guidance=False)
    held_out = captioner.card.get("data", {}).get("held_out_concepts", [])
    data = load_captions(data_root)
    train = split_data(captioner, data, "train", cache_dir, limit, leave_out=held_out)
    dev = split_data(captioner, data, "dev", cache_dir, limit, leave_out=held_out)
    index = NoveltyIndex.fit(train.features, dev.features)
    index.save(Path(model_dir) / NOVELTY_FILE)
    card = load_card(model_dir, verify=False)
    card["novelty"] = {"file": NOVELTY_FILE, "distance": "Mahalanobis, L2-normalised features, covariance shrunk "
                       f"{SHRINKAGE} towards the identity", "fitted_on": f"train ({len(train.names)} photos)",
                       "percentiles_of": f"dev ({len(dev.names)} photos)"}
    write_card(model_dir, card)
    return index


def decode_with(captioner: Captioner, data: SplitData, config: GuidanceConfig) -> list[CaptionResult]:
    """The split's captions as serving would give them with ``config`` (the pixel rules and detector included)."""
    return captioner.describe_features(data.features, data.names, config=config, pixels=data.pixels)


def per_photo(choose: Sequence[bool], when_true: Sequence, when_false: Sequence) -> list:
    return [a if c else b for c, a, b in zip(choose, when_true, when_false)]


def evidence_rule(captioner: Captioner) -> dict:
    """The person-evidence rule's settings for a model with a novelty index and a person detector; none (the probe
    alone, as before) for one without."""
    guidance = captioner.guidance
    if guidance.novelty is None or guidance.detector is None:
        return {}
    return {"typical_novelty": TYPICAL_NOVELTY, "person_detected_threshold": PERSON_DETECTED_THRESHOLD}


def choose_person_threshold(person_rows: Sequence[dict], plain_named: float) -> float:
    """The highest person threshold whose ban still names a person on all but ``PEOPLE_NAMED_LOSS`` of the photos
    with people that the plain search names one on (``plain_named``), and on at least ``PEOPLE_STILL_NAMED_FLOOR``;
    0 (no ban) where none does."""
    least = max(plain_named - PEOPLE_NAMED_LOSS, PEOPLE_STILL_NAMED_FLOOR)
    allowed = [r for r in person_rows if r["person_still_named"] >= least]
    return max(allowed, key=lambda r: r["person_threshold"])["person_threshold"] if allowed else 0.0


def choose_guidance(model_dir: str | Path, data_root: str | Path | None = None, cache_dir: Path | None = None,
                    record: bool = True, limit: int | None = None) -> dict:
    """Choose the thresholds on dev, fit the calibration there, and record them as the card's ``guidance``.

    A decoder trained without some concepts (``train --hold-out``) is tuned on the dev photos without them.
    Bans and tags act photo by photo, so three decodings of dev give every person and tag threshold's captions:
    plain, with person words banned everywhere, and guided at the lowest tag threshold with the chosen person
    threshold. The bans on pseudo-learned words (a decoder trained on pseudo-captions) and then on unlikely things'
    words need a decoding per threshold tried.
    """
    captioner = Captioner(model_dir)
    # A decoder trained without some concepts is tuned without them too (the novel-object protocol).
    held_out = captioner.card.get("data", {}).get("held_out_concepts", [])
    data = load_captions(data_root)
    dev = split_data(captioner, data, "dev", cache_dir, limit, leave_out=held_out)
    references = [dev.references[n] for n in dev.names]
    named = dev.named
    guidance = captioner.guidance
    plain = decode_with(captioner, dev, GuidanceConfig(tag_threshold=2.0, person_threshold=0.0))  # no tag, no ban
    banned_everywhere = decode_with(captioner, dev, GuidanceConfig(tag_threshold=2.0, person_threshold=2.0))
    # Person words by the evidence rule, where the model has a novelty index and detectors; else the probe alone.
    evidence = evidence_rule(captioner)
    seen = guidance.recognise(dev.features)
    detected = guidance.detect_people(seen, GuidanceConfig(person_threshold=2.0, **evidence), dev.pixels)

    def allowed_at(threshold: float) -> np.ndarray:
        return guidance.person_allowed(seen, GuidanceConfig(person_threshold=threshold, **evidence), detected)

    person_rows = []
    for threshold in np.round(np.arange(0.05, 0.95, 0.05), 2):
        captions = [r.caption for r in per_photo(allowed_at(threshold), plain, banned_everywhere)]
        person_rows.append({"person_threshold": float(threshold), **people_figures(captions, references)})
    # The loss is counted from what the evidence rule names with no probe threshold at all (without the rule, the
    # plain search): the rule's own cost was weighed when it was chosen, on dev and ood-dev together.
    unbanned = per_photo(allowed_at(0.0), plain, banned_everywhere)
    person_threshold = choose_person_threshold(
        person_rows, people_figures([r.caption for r in unbanned], references)["person_still_named"])

    # Tags: guided captions for every photo whose top tag is at least the lowest threshold tried; a photo
    # below a higher threshold gets its unguided caption (with the chosen ban) instead.
    lowest = LOWEST_TAG_THRESHOLD
    chosen_people = GuidanceConfig(person_threshold=person_threshold, **evidence, **(WORDING if evidence else {}))
    everywhere = decode_with(captioner, dev, dataclasses.replace(chosen_people, tag_threshold=lowest))
    unguided = per_photo(allowed_at(person_threshold), plain, banned_everywhere)
    tag_probability = np.array([r.guidance.tried.probability if r.guidance.tried else 0.0 for r in everywhere])
    base = {**score_captions(dict(zip(dev.names, [r.caption for r in unguided])), dev.references, meteor=False),
            **chair([r.caption for r in unguided], named)}
    tag_rows, served_at = [], {}
    for threshold in np.round(np.arange(lowest, 0.95, 0.05), 2):
        chosen = served_at[float(threshold)] = per_photo(tag_probability >= threshold, everywhere, unguided)
        captions = [r.caption for r in chosen]
        scores = score_captions(dict(zip(dev.names, captions)), dev.references, meteor=False)
        tag_rows.append({"tag_threshold": float(threshold), "cider": round(scores["cider"], 4),
                         "bleu_4": round(scores["bleu_4"], 4), "guided": sum(r.guidance.guided for r in chosen),
                         **chair(captions, named)})
    tag_threshold = max(tag_rows, key=lambda r: (r["cider"], -r["tag_threshold"]))["tag_threshold"]

    config = dataclasses.replace(chosen_people, tag_threshold=tag_threshold)
    served, pseudo_rows = served_at[tag_threshold], []
    if captioner.card.get("data", {}).get("pseudo_captions") and held_out:
        # First the pseudo-learned words' own ban: without it such a decoder says them everywhere, and the ban on
        # other things' words would be chosen to silence them.
        whole_dev = split_data(captioner, data, "dev", cache_dir, limit)  # their labels: DCC's setting
        config, pseudo_rows = choose_pseudo_word_threshold(captioner, config, held_out, whole_dev)
        served = decode_with(captioner, dev, config)
    config, served, object_rows = choose_object_word_threshold(captioner, config, dev, served)

    # Calibration: on dev's captions as served with the chosen thresholds.
    inputs, correct = calibration_data(served, named)
    config = dataclasses.replace(config, calibration=fit_calibration(inputs, correct))
    if record:
        card = load_card(model_dir)
        card["guidance"] = {**config.card(), "chosen_on": "dev"}
        write_card(model_dir, card)
    return {"guidance": config.card(), "person_thresholds": person_rows, "tag_thresholds": tag_rows,
            "object_word_thresholds": object_rows, "pseudo_word_thresholds": pseudo_rows,
            "served_dev": dict(zip(dev.names, (r.caption for r in served))),
            "unguided_dev": {k: round(base[k], 4) for k in ("bleu_4", "cider", "chair_i", "chair_s")},
            "reliability": reliability(cross_validated(inputs, correct), correct)}


def choose_object_word_threshold(captioner: Captioner, config: GuidanceConfig, dev: SplitData,
                                 served: list[CaptionResult]) -> tuple[GuidanceConfig, list[CaptionResult], list[dict]]:
    """The ban on unlikely things' words that scores best on dev by CIDEr, the lower threshold on a tie; ``served``
    are dev's captions without it. Returns the config, its dev captions and every threshold's figures."""
    rows, captions_at = [], {}
    for threshold in OBJECT_WORD_THRESHOLDS:
        trial = dataclasses.replace(config, object_word_threshold=threshold)
        captions_at[threshold] = served if threshold == 0 else decode_with(captioner, dev, trial)
        captions = [r.caption for r in captions_at[threshold]]
        scores = score_captions(dict(zip(dev.names, captions)), dev.references, meteor=False)
        rows.append({"object_word_threshold": threshold, "cider": round(scores["cider"], 4),
                     "bleu_4": round(scores["bleu_4"], 4), **chair(captions, dev.named)})
    best = max(rows, key=lambda r: (r["cider"], -r["object_word_threshold"]))["object_word_threshold"]
    return dataclasses.replace(config, object_word_threshold=best), captions_at[best], rows


# Where a word learned only from pseudo-captions may be said: at least this probable by its concept's probe.
PSEUDO_WORD_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def choose_pseudo_word_threshold(captioner: Captioner, config: GuidanceConfig, concepts: Sequence[str],
                                 dev: SplitData) -> tuple[GuidanceConfig, list[dict]]:
    """The ban on pseudo-learned words that names ``concepts`` best on dev: mean F1 over them, the lower
    threshold on a tie. It reads every dev photo's labels (whether its references name a concept), as the probes
    read the train photos', but none of the held-out photos' sentences."""
    probed = [c for c in concepts if c in captioner.guidance.recogniser.concepts]
    rows = []
    for threshold in PSEUDO_WORD_THRESHOLDS:
        trial = dataclasses.replace(config, pseudo_concepts=tuple(probed), pseudo_word_threshold=threshold)
        captions = [r.caption for r in decode_with(captioner, dev, trial)]
        scores = {c: concept_f1(captions, dev.named, c) for c in probed}
        rows.append({"pseudo_word_threshold": threshold, "mean_f1": round(float(np.mean([s["f1"] for s in scores.values()])), 4),
                     **{c: s["f1"] for c, s in scores.items()}})
    best = max(rows, key=lambda r: (r["mean_f1"], -r["pseudo_word_threshold"]))
    return dataclasses.replace(config, pseudo_concepts=tuple(probed),
                               pseudo_word_threshold=best["pseudo_word_threshold"]), rows


def calibration_data(served: list[CaptionResult], named: list[set[str]]) -> tuple[np.ndarray, np.ndarray]:
    """What each served caption's confidence weighed, and whether the caption is correct by
    :func:`caption_correct`."""
    inputs = np.array([r.guidance.evidence for r in served])
    correct = np.array([caption_correct(r.caption, n) for r, n in zip(served, named)])
    return inputs, correct


def cross_validated(inputs: np.ndarray, correct: np.ndarray, folds: int = 5) -> np.ndarray:
    """Each photo's confidence from a calibration fitted on the other folds: an honest reliability diagram."""
    fold = np.arange(len(inputs)) % folds
    predicted = np.zeros(len(inputs))
    for k in range(folds):
        *weights, bias = fit_calibration(inputs[fold != k], correct[fold != k])
        predicted[fold == k] = 1 / (1 + np.exp(-(inputs[fold == k] @ np.asarray(weights) + bias)))
    return predicted


def reliability(predicted: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    """Bins of predicted confidence: their mean confidence, share correct and size; and the expected
    calibration error (the size-weighted mean gap)."""
    edges = np.linspace(0, 1, bins + 1)
    rows, gap = [], 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (predicted >= low) & ((predicted < high) | (high == 1.0))
        if inside.any():
            mean, share = float(predicted[inside].mean()), float(correct[inside].mean())
            rows.append({"from": round(low, 2), "to": round(high, 2), "photos": int(inside.sum()),
                         "confidence": round(mean, 3), "correct": round(share, 3)})
            gap += inside.sum() * abs(mean - share)
    return {"bins": rows, "ece": round(gap / len(predicted), 4), "correct": round(float(correct.mean()), 4)}

"""Experiment: how strongly to shrink the concept probes, and how far the probes alone could name the held-out six.

    .venv/bin/python -m captioner features --encoder efficientnet_lite2   # the cache it reads
    .venv/bin/python -m experiments.probe_strength_experiment [--l2 3 10 30 100] [--split dev] [--imagenet-words]

The probes (:func:`captioner.guidance.recognition.fit_concept_probes`) are L2-penalised logistic regressions over the pooled
features, fitted on the train photos' labels. For each penalty it prints every concept's average precision on the
split (a threshold-free measure of how well the probe ranks photos), and, for the held-out six of the novel-object
protocol, the F1 that naming a concept exactly where its probe passes a threshold would reach: the ceiling of any
guided caption whose naming is decided by the probe. ``--imagenet-words`` gives the probes the ImageNet layer's
word log-probabilities as well as the pooled features. Choose on dev; report test once.
"""

from __future__ import annotations

import argparse

import numpy as np

from captioner.data import load_captions
from captioner.guidance.concepts import OBJECT_GROUPS
from captioner.guidance.fitting import split_data
from captioner.guidance.recognition import fit_logistic, sigmoid
from captioner.serving import Captioner
from captioner.train.recipes import HELD_OUT
from experiments.spatial_probe_experiment import average_precision

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def f1_at(probability: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    said = probability >= threshold
    hits = (said & truth).sum()
    return float(2 * hits / max(said.sum() + truth.sum(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, nargs="+", default=[3.0, 10.0, 30.0, 100.0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--imagenet-words", action="store_true", help="probe the ImageNet words' log-probabilities too")
    args = parser.parse_args()

    captioner = Captioner("model")  # only its encoder's name: which feature cache to read
    data = load_captions(None)
    train, scored = split_data(captioner, data, "train"), split_data(captioner, data, args.split)
    concepts = [c for c in OBJECT_GROUPS if c != "person"]
    if args.imagenet_words:
        words = captioner.guidance.recogniser.word_probabilities
        for split in (train, scored):
            split.features = np.concatenate([split.features, np.log(np.clip(words(split.features), 1e-6, 1))], axis=1)
    truth_train = {c: np.array([c in n for n in train.named]) for c in concepts}
    truth = {c: np.array([c in n for n in scored.named]) for c in concepts}
    counted = [c for c in concepts if truth[c].sum() >= 10]  # AP of a handful of photos is noise
    print(f"{args.split}: {len(counted)} concepts with 10+ photos: " +
          ", ".join(f"{c} {int(truth[c].sum())}" for c in counted))
    for l2 in args.l2:
        probability = {}
        for c in counted:
            kernel, bias = fit_logistic(train.features, truth_train[c], l2=l2)
            probability[c] = sigmoid(scored.features @ kernel + bias)
        ap = {c: average_precision(probability[c], truth[c]) for c in counted}
        held = [c for c in HELD_OUT.hold_out if c in counted]
        print(f"l2 {l2:g}: mean AP {np.mean(list(ap.values())):.3f} over {len(counted)}, "
              f"held-out six {np.mean([ap[c] for c in held]):.3f} (" +
              ", ".join(f"{c} {ap[c]:.2f}" for c in held) + ")")
        print("    other: " + ", ".join(f"{c} {ap[c]:.2f}" for c in counted if c not in held))
        for threshold in THRESHOLDS:
            scores = [f1_at(probability[c], truth[c], threshold) for c in held]
            print(f"    probe alone at {threshold}: held-out mean F1 {np.mean(scores):.3f} (" +
                  ", ".join(f"{s:.2f}" for s in scores) + ")")


if __name__ == "__main__":
    main()

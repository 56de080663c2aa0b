"""Experiment: do concept probes see more when they read the encoder's feature map before it is averaged?

    .venv/bin/python -m experiments.spatial_probe_experiment [--concepts person bicycle ...] [--split dev]

The probes of :mod:`captioner.guidance.recognition` are logistic regressions over the 1280 features the decoder reads, the
average of the encoder's last 9x9 map. A small ball or a table at the edge is one cell of 81, and averaging
dilutes it. This runs the shipped encoder (EfficientNet-Lite2) once more over every Flickr8k photo, keeping the
map, and pools it other ways: the maximum over cells, the mean of the 4 strongest cells, and these beside the
average. It fits one probe per concept on the train split for each pooling (the shipped L2) and reports, on
the chosen split: average precision, and at the guidance's lowest tag threshold (0.5) the recall and precision,
the share of the concept's photos where guidance could fire. For the person probe, the share of photos without a
person above the threshold that keeps 97% of the photos with people (the ban's rule). Choose on dev.

The maps are pooled as they come and cached in ``.cache/spatial/`` (8,091 photos, about 5 minutes here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from captioner.data import REPO_ROOT, load_captions, split_images
from captioner.guidance.concepts import OBJECT_GROUPS, names_person
from captioner.guidance.fitting import SplitData
from captioner.guidance.recognition import PROBE_L2, fit_logistic, sigmoid
from captioner.images import load_in_batches
from captioner.text import clean_caption
from captioner.train.recipes import HELD_OUT

CACHE = REPO_ROOT / ".cache" / "spatial" / "efficientnet_lite2.npz"
PEOPLE_STILL_NAMED = 0.97  # the share of dev photos with people the person threshold keeps, as the experiment ran


def pooled_maps(names: list[str], paths: list[Path]) -> dict[str, np.ndarray]:
    """Each photo's last feature map pooled as the average, the maximum and the mean of the 4 strongest cells."""
    import keras

    from captioner.train.keras_encoders import build_encoder

    encoder = build_encoder("efficientnet_lite2")
    network = encoder.network
    maps = keras.Model(network.input, network.get_layer("features").input)
    size = (encoder.spec.input_size, encoder.spec.input_size)
    pools: dict[str, list[np.ndarray]] = {"mean": [], "max": [], "top4": []}
    for done, pixels, errors in load_in_batches(paths, size, 32):
        if errors:
            raise SystemExit(f"unreadable photos: {errors}")
        cells = np.asarray(maps.predict_on_batch(encoder.spec.preprocess(pixels)), np.float32)
        cells = cells.reshape(len(cells), -1, cells.shape[-1])
        pools["mean"].append(cells.mean(axis=1))
        pools["max"].append(cells.max(axis=1))
        pools["top4"].append(np.sort(cells, axis=1)[:, -4:].mean(axis=1))
        print(f"\r{sum(len(p) for p in pools['mean'])} / {len(paths)}", end="", flush=True)
    print()
    return {"names": np.array(names), **{k: np.concatenate(v) for k, v in pools.items()}}


def load_pools(data) -> dict[str, np.ndarray]:
    names = sorted({n for split in ("train", "dev", "test") for n in split_images(data, split)})
    if not CACHE.is_file():
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, **pooled_maps(names, [data.image_path(n) for n in names]))
    with np.load(CACHE) as arrays:
        return {k: arrays[k] for k in arrays.files}


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = truth[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--concepts", nargs="+", default=["person", "dog", *HELD_OUT.hold_out])
    parser.add_argument("--l2", type=float, default=PROBE_L2)
    args = parser.parse_args()
    data = load_captions()
    pools = load_pools(data)
    row = {n: i for i, n in enumerate(pools["names"].tolist())}

    def split(name: str, pooling: str) -> tuple[np.ndarray, list[set[str]], np.ndarray]:
        names = split_images(data, name)
        features = np.concatenate([pools[p][[row[n] for n in names]] for p in pooling.split("+")], axis=1)
        refs = SplitData(names, features, {n: data.captions[n] for n in names})
        person_share = np.array([np.mean([names_person(clean_caption(r)) for r in data.captions[n]]) for n in names])
        return features, refs.named, person_share

    for pooling in ("mean", "max", "top4", "mean+max", "mean+top4"):
        train_x, train_named, _ = split("train", pooling)
        eval_x, eval_named, person_share = split(args.split, pooling)
        cells = []
        for concept in args.concepts:
            if concept not in OBJECT_GROUPS:
                raise SystemExit(f"unknown concept {concept}")
            weights, bias = fit_logistic(train_x, np.array([concept in n for n in train_named]), l2=args.l2)
            p = sigmoid(eval_x @ weights + bias)
            truth = np.array([concept in n for n in eval_named])
            fired = p >= 0.5
            recall = (fired & truth).sum() / max(truth.sum(), 1)
            precision = (fired & truth).sum() / max(fired.sum(), 1)
            cell = f"{concept} AP {average_precision(p, truth):.3f} R {recall:.2f} P {precision:.2f}"
            if concept == "person":
                every, none = person_share == 1.0, person_share == 0.0
                threshold = np.quantile(p[every], 1 - PEOPLE_STILL_NAMED)
                cell += f" kept97%@{threshold:.2f}: {np.mean(p[none] >= threshold):.3f} of {none.sum()} no-person"
            cells.append(cell)
        print(f"{pooling:10s} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()

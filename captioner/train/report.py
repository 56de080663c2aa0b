"""Figures and tables for the notebook: what the data, the training and the captions look like.

Only presentation lives here; every number comes from the other modules. Photos are shown downscaled so
the committed notebook stays small.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Sequence

import numpy as np

from ..data import CaptionSet
from ..evaluate import TARGETS
from ..images import load_rgb

# Published Flickr8k test figures (fractions), for the comparison table.
PUBLISHED = {
    "Brownlee merge tutorial": {"bleu_1": 0.579, "bleu_4": 0.131},
    "Tanti et al. 2018, merge": {"bleu_4": 0.178, "meteor": 0.193, "cider": 0.469},
    "Show, Attend and Tell (soft)": {"bleu_1": 0.670, "bleu_4": 0.195, "meteor": 0.189},
}


def show_photos(data: CaptionSet, names: Sequence[str], captions: dict[str, str] | None = None, size: int = 160):
    """A grid of photos, each with its reference captions (and a generated one, if given)."""
    import matplotlib.pyplot as plt

    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.6 * rows), squeeze=False)
    for axis, name in zip(axes.ravel(), names):
        axis.imshow(load_rgb(data.image_path(name), (size, size)))
        lines = [f"model: {captions[name]}"] if captions else []
        lines += [f"- {c}" for c in data.captions[name]]
        axis.set_title("\n".join(_wrap(line, 48) for line in lines), fontsize=7.5, loc="left")
        axis.axis("off")
    for axis in axes.ravel()[len(names):]:
        axis.axis("off")
    figure.tight_layout()
    return figure


def show_explanation(photo, explanation: dict, size: int = 200):
    """The photo once per word of its caption, shaded where covering it cost that word most."""
    import matplotlib.pyplot as plt

    pixels = load_rgb(photo, (size, size))
    words = explanation["words"]
    columns = min(len(words), 5)
    rows = -(-len(words) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for axis, word, heatmap in zip(axes.ravel(), words, explanation["heatmaps"]):
        axis.imshow(pixels)
        shade = np.zeros((*np.shape(heatmap), 4))
        shade[..., 0], shade[..., 3] = 0.8, np.asarray(heatmap) * 0.7  # red, as opaque as the word's loss
        axis.imshow(shade, interpolation="bilinear", extent=(0, size, size, 0))
        axis.set_title(word, fontsize=11)
        axis.axis("off")
    for axis in axes.ravel()[len(words):]:
        axis.axis("off")
    figure.suptitle(explanation["caption"], fontsize=12)
    figure.tight_layout()
    return figure


def plot_text_statistics(tokenized: dict[str, list[list[str]]], top: int = 25):
    """Caption lengths, and the most frequent words."""
    import matplotlib.pyplot as plt

    lengths = [len(c) for captions in tokenized.values() for c in captions]
    counts = Counter(w for captions in tokenized.values() for c in captions for w in c)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    left.hist(lengths, bins=range(0, max(lengths) + 2), color="#0b5fff")
    left.set(xlabel="words per caption", ylabel="captions", title=f"caption length (mean {np.mean(lengths):.1f})")
    words, frequencies = zip(*counts.most_common(top))
    right.bar(words, frequencies, color="#0b5fff")
    right.set(title=f"{top} most frequent of {len(counts):,} words")
    right.tick_params(axis="x", rotation=70, labelsize=8)
    figure.tight_layout()
    return figure


def plot_history(histories: list[dict]):
    """Training and dev loss per epoch, one colour per ensemble member."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    for member, history in enumerate(histories, start=1):
        epochs = range(1, len(history["loss"]) + 1)
        name = f"member {member}: " if len(histories) > 1 else ""
        train_line, = axis.plot(epochs, history["loss"], "o-", markersize=3, label=f"{name}train")
        axis.plot(epochs, history["val_loss"], "s--", markersize=3, color=train_line.get_color(), label=f"{name}dev")
        best = int(np.argmin(history["val_loss"])) + 1
        axis.plot(best, min(history["val_loss"]), "*", markersize=12, color=train_line.get_color())
    axis.set(xlabel="epoch", ylabel="loss (cross-entropy)", title="training (star: best dev epoch, kept)")
    axis.legend(fontsize="small", ncol=max(1, len(histories)))
    figure.tight_layout()
    return figure


def comparison_table(result: dict, label: str = "this model"):
    """Our scores beside the published ones and the targets, as a pandas DataFrame."""
    import pandas as pd

    columns = ["bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "cider"]
    rows = {label: {k: result.get(k) for k in columns}, **PUBLISHED, "targets": TARGETS}
    return pd.DataFrame.from_dict(rows, orient="index")[columns].rename(columns=str.upper).round(3)


def decoding_table(results: Sequence[dict]):
    """Scores of each decoding setting tried, with the margin by which it clears the targets (at least 1: all met)."""
    import pandas as pd

    rows = [{"beam": r["beam"], "length penalty": r["length_penalty"],
             **{k.upper(): r[k] for k in ("bleu_1", "bleu_4", "meteor", "cider")},
             "distinct": r["distinct_captions"], "margin": min(r[k] / t for k, t in TARGETS.items()),
             "seconds": r["decode_seconds"]} for r in results]
    return pd.DataFrame(rows).round(3)


def plot_reliability(reliability: dict):
    """The reliability diagram: each confidence bin's share of correct captions against its mean confidence."""
    import matplotlib.pyplot as plt

    bins = reliability["bins"]
    figure, axis = plt.subplots(figsize=(4, 4))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    axis.plot([b["confidence"] for b in bins], [b["correct"] for b in bins], "o-", label="dev (cross-validated)")
    for b in bins:
        axis.annotate(str(b["photos"]), (b["confidence"], b["correct"]), textcoords="offset points", xytext=(4, -10),
                      fontsize=7)
    axis.set(xlabel="confidence", ylabel="share correct", xlim=(0, 1), ylim=(0, 1),
             title=f"ECE {reliability['ece']:.3f}")
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def plot_risk_coverage(curves: dict[str, dict]):
    """Selective risk against coverage (:func:`captioner.metrics.risk_coverage`), one line per set of photos: how
    often the answers kept are wrong, keeping them from the most confident down."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4))
    for label, curve in curves.items():
        axis.plot(curve["coverage"], curve["risk"], label=f"{label} (AURC {curve['aurc']:.3f})")
    axis.axhline(0.10, color="grey", linestyle=":", linewidth=1)
    axis.set(xlabel="coverage (share of answers kept)", ylabel="risk (share of those wrong)", xlim=(0, 1), ylim=(0, 1))
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def threshold_table(rows: Sequence[dict]):
    """The thresholds tried on dev (``choose_guidance``'s person or tag rows), as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame(rows).round(3)


def concept_table(results: dict[str, dict], concepts: Sequence[str]):
    """Each concept's F1 (DCC's measure) under each labelled evaluation result, with the mean and spread."""
    import pandas as pd

    table = pd.DataFrame({label: {c: r["concepts"].get(c, {}).get("f1") for c in concepts}
                          for label, r in results.items()})
    table.insert(0, "test photos", [next(iter(results.values()))["concepts"].get(c, {}).get("photos") for c in concepts])
    summary = pd.DataFrame({"mean": table.iloc[:, 1:].mean(), "std": table.iloc[:, 1:].std()}).T
    return pd.concat([table, summary]).round(3)


def best_and_worst(per_image: dict[str, dict], count: int = 3) -> tuple[list[str], list[str]]:
    """The photos with the highest and the lowest per-image CIDEr."""
    ranked = sorted(per_image, key=lambda n: per_image[n]["cider"])
    return ranked[-count:][::-1], ranked[:count]


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width, subsequent_indent="  ")

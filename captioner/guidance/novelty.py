"""How far a photo is from the photos the model learned from: a novelty score over the encoder's pooled features.

The score is the Mahalanobis distance of the L2-normalised features from the training photos' mean, under their
covariance shrunk halfway towards its average variance (Ledoit-Wolf-style shrinkage keeps 1280 dimensions from
6,000 photos invertible), kept as its 64 principal directions and one scale for the rest. On Flickr8k dev against
everyday photos from elsewhere it separates better than the k-nearest-neighbour distance (Sun et al., ICML 2022),
and costs a 64 x 1280 product instead of 6,000 dot products (docs/experiments.md, *Knowing when it does not know*).

A raw distance means little to a reader, so it is reported as a **percentile** among the Flickr8k dev photos: 0.5
is a typical Flickr8k photo, 0.99 rarer than 99 of 100, and 1.0 further than any of them. Charts, screenshots,
plain colours and noise all land at 1.0. The training photos' statistics and the dev photos' sorted distances
ship in the model folder's ``novelty.npz``, which ``python -m captioner guide`` writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..io import atomic_path

# How far the covariance is shrunk towards a multiple of the identity: 0.5 had the best dev-against-ood-dev AUROC
# of 0.01-0.9 (a plateau from 0.3 to 0.7).
SHRINKAGE = 0.5
# Principal directions kept with their own scale: 32 to 256 gave the full matrix's AUROC (0.92) on dev against ood-dev.
COMPONENTS = 64


class NoveltyIndex:
    """Features -> a Mahalanobis distance from the training photos, and its percentile among the dev photos'.

    The shrunk covariance's inverse is kept as its ``COMPONENTS`` largest principal directions, each with its own
    scale, and one scale for everything orthogonal to them (whose shrunk variances are nearly equal): 0.3 MB
    instead of a 1280 x 1280 matrix's 6.5 MB in every worker, with the same AUROC on dev against ood-dev.
    """

    def __init__(self, mean: np.ndarray, directions: np.ndarray, scales: np.ndarray, rest_scale: float,
                 dev_distances: np.ndarray):
        if directions.shape != (len(scales), len(mean)):
            raise CaptionerError(f"the novelty index's directions have shape {directions.shape} for {len(scales)} "
                                 f"scales of {len(mean)} features")
        self.mean = mean.astype(np.float32)
        self.directions = directions.astype(np.float32)  # (components, features), orthonormal rows
        self.scales = scales.astype(np.float32)  # 1 / each direction's shrunk variance
        self.rest_scale = float(rest_scale)  # 1 / the shrunk variance of everything else
        self.dev_distances = np.sort(dev_distances.astype(np.float32))

    @property
    def feature_size(self) -> int:
        return len(self.mean)

    def distance(self, features: np.ndarray) -> np.ndarray:
        """(photos,): the squared Mahalanobis distance of each photo's L2-normalised features."""
        unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        centred = unit - self.mean
        along = centred @ self.directions.T
        rest = np.square(centred).sum(axis=1) - np.square(along).sum(axis=1)
        return np.square(along) @ self.scales + np.maximum(rest, 0.0) * self.rest_scale

    def percentile(self, distances: np.ndarray) -> np.ndarray:
        """(photos,): the share of dev photos at most as far as each distance (0: typical ... 1: beyond them all)."""
        return np.searchsorted(self.dev_distances, distances, side="right") / len(self.dev_distances)

    def novelty(self, features: np.ndarray) -> np.ndarray:
        return self.percentile(self.distance(features))

    @classmethod
    def fit(cls, train_features: np.ndarray, dev_features: np.ndarray, shrinkage: float = SHRINKAGE,
            components: int = COMPONENTS) -> "NoveltyIndex":
        unit = train_features / np.linalg.norm(train_features, axis=1, keepdims=True)
        mean = unit.mean(axis=0)
        variances, vectors = np.linalg.eigh(np.cov(unit - mean, rowvar=False))
        variances, vectors = variances[::-1], vectors[:, ::-1]  # largest first
        floor = shrinkage * variances.sum() / len(mean)  # the shrinkage towards the average variance
        shrunk = (1 - shrinkage) * variances + floor
        components = min(components, len(mean) - 1)
        index = cls(mean, vectors[:, :components].T, 1 / shrunk[:components], 1 / shrunk[components:].mean(),
                    np.zeros(1))
        index.dev_distances = np.sort(index.distance(dev_features))
        return index

    @classmethod
    def from_file(cls, path: str | Path) -> "NoveltyIndex":
        try:
            with np.load(path) as arrays:
                return cls(arrays["mean"], arrays["directions"], arrays["scales"], float(arrays["rest_scale"]),
                           arrays["dev_distances"])
        except (OSError, KeyError, ValueError) as error:
            raise CaptionerError(f"cannot read the novelty index {path}: {error}") from None

    def save(self, path: str | Path) -> None:
        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as file:
                np.savez(file, mean=self.mean, directions=self.directions, scales=self.scales,
                         rest_scale=np.float32(self.rest_scale), dev_distances=self.dev_distances)

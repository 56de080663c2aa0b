"""Feature extraction for training: batched, cached on disk, resumable.

The cache holds one folder per encoder; each run that computes something adds one ``part-*.npz`` file
(image names and their feature rows), written atomically every ``part_size`` images. A re-run loads
every part and encodes only the images that are still missing, so an interrupted extraction resumes
where it stopped and a complete one costs only the reading of the cache.
"""

from __future__ import annotations

import os
import time
import warnings
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
from tqdm.auto import tqdm

from .data import REPO_ROOT
from .encoders import Encoder
from .images import load_in_batches
from .io import atomic_path

DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "features"


class FeatureWarning(UserWarning):
    """An image could not be encoded and was skipped."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("CAPTIONER_CACHE", DEFAULT_CACHE_DIR))


def load_cached(encoder_name: str, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Every feature vector cached for this encoder, by image name."""
    folder = (cache_dir or default_cache_dir()) / encoder_name
    cached: dict[str, np.ndarray] = {}
    for part in sorted(folder.glob("part-*.npz")):
        try:
            with np.load(part) as arrays:
                cached.update(zip(arrays["names"].tolist(), arrays["features"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"ignoring unreadable cache file {part} ({error})", FeatureWarning, stacklevel=2)
    return cached


def extract_features(
    encoder: Encoder,
    images: Mapping[str, Path],
    cache_dir: Path | None = None,
    batch_size: int = 32,
    part_size: int = 1024,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Features for every image in ``images`` (name -> path) that can be read.

    Cached features are reused. Unreadable images are reported in one warning and left out of the
    result, so the caller sees exactly which images have features.
    """
    cache_dir = cache_dir or default_cache_dir()
    cached = load_cached(encoder.spec.name, cache_dir)
    features = {name: cached[name] for name in images if name in cached}
    todo = [name for name in images if name not in cached]
    if not todo:
        return features

    failed: dict[str, str] = {}
    part_names: list[str] = []
    part_rows: list[np.ndarray] = []
    size = (encoder.spec.input_size, encoder.spec.input_size)
    bar = tqdm(total=len(todo), desc=f"features ({encoder.spec.name})", unit="img", disable=not progress)
    started = time.perf_counter()
    for rows_done, pixels, errors in load_in_batches([images[name] for name in todo], size, batch_size):
        names = [todo[i] for i in rows_done]
        failed.update({todo[i]: error for i, error in errors.items()})
        if names:
            rows = encoder.encode(pixels)
            features.update(zip(names, rows))
            part_names += names
            part_rows.append(rows)
        if len(part_names) >= part_size:
            _write_part(cache_dir / encoder.spec.name, part_names, part_rows)
            part_names, part_rows = [], []
        bar.update(len(names) + len(errors))
    _write_part(cache_dir / encoder.spec.name, part_names, part_rows)
    bar.close()
    if progress:
        done = len(todo) - len(failed)
        rate = done / max(time.perf_counter() - started, 1e-9)
        tqdm.write(f"encoded {done} image(s) with {encoder.spec.name} at {rate:.1f} images/s")
    if failed:
        listed = "; ".join(f"{name}: {why}" for name, why in list(failed.items())[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        warnings.warn(f"skipped {len(failed)} unreadable image(s): {listed}{more}", FeatureWarning, stacklevel=2)
    return features


def _write_part(folder: Path, names: list[str], rows: list[np.ndarray]) -> None:
    if not names:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{time.time_ns()}.npz"
    with atomic_path(path) as tmp:
        np.savez(tmp, names=np.array(names), features=np.concatenate(rows).astype(np.float32))

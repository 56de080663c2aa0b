"""Reading caption data sets as they are distributed.

Two layouts are understood:

* Flickr8k as published: ``Flickr8k.token.txt`` (``name.jpg#k<TAB>caption``) beside ``Images/`` and
  the official ``Flickr_8k.{train,dev,test}Images.txt`` split files.
* The common ``captions.txt`` CSV (``image,caption`` with a header), as in the Kaggle copies of
  Flickr8k and Flickr30k. Without split files, a fixed-seed split is derived from the image names.

Entries that name a photo which is not in the image folder (Flickr8k has one,
``2258277193_586949ec62.jpg.1``) are reported in a single warning and skipped.
"""

from __future__ import annotations

import csv
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import CaptionerError

REPO_ROOT = Path(__file__).resolve().parents[1]
# The tests and the notebook read Flickr8k from ../shared beside the checkout unless told otherwise.
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "flickr8k"
SPLITS = ("train", "dev", "test")

_TOKEN_FILE = "Flickr8k.token.txt"
_CSV_FILE = "captions.txt"
_SPLIT_FILES = {split: f"Flickr_8k.{split}Images.txt" for split in SPLITS}
_IMAGE_DIRS = ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class DataWarning(UserWarning):
    """Something in the data was skipped; the rest is still usable."""


def default_data_root() -> Path:
    """``$CAPTIONER_DATA`` if set, else ``../shared/flickr8k`` beside the repository."""
    return Path(os.environ.get("CAPTIONER_DATA", DEFAULT_DATA_ROOT))


@dataclass
class CaptionSet:
    """Images with their reference captions, and how they are split."""

    root: Path
    image_dir: Path
    captions: dict[str, list[str]]
    splits: dict[str, list[str]] = field(default_factory=dict)

    def split(self, name: str) -> list[str]:
        if name not in self.splits:
            known = ", ".join(self.splits) or "none"
            raise CaptionerError(f"unknown split {name!r} (this data set has: {known})")
        return self.splits[name]

    def image_path(self, name: str) -> Path:
        return self.image_dir / name

    def __len__(self) -> int:
        return len(self.captions)


def load_captions(root: str | os.PathLike | None = None) -> CaptionSet:
    """Load a data folder: its captions, its image folder and its split."""
    root = Path(root) if root is not None else default_data_root()
    if not root.is_dir():
        raise CaptionerError(
            f"data folder not found: {root} (pass --data DIR or set CAPTIONER_DATA; "
            "it must hold the images and Flickr8k.token.txt or captions.txt)"
        )
    image_dir = _find_image_dir(root)
    pairs = _read_caption_file(root)

    available = {p.name for p in image_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES}
    captions: dict[str, list[str]] = {}
    missing: set[str] = set()
    for image, caption in pairs:
        if image in available:
            captions.setdefault(image, []).append(caption)
        else:
            missing.add(image)
    if missing:
        _warn_skipped(f"{len(missing)} captioned image(s) not found in {image_dir}", missing)
    if not captions:
        raise CaptionerError(f"none of the captioned images are in {image_dir}")

    splits = _read_splits(root, captions)
    return CaptionSet(root=root, image_dir=image_dir, captions=captions, splits=splits)


def read_token_file(path: Path) -> list[tuple[str, str]]:
    """Parse ``name.jpg#k<TAB>caption`` lines into (image name, caption) pairs."""
    pairs, bad = [], 0
    for line in _read_lines(path):
        name, tab, caption = line.partition("\t")
        image = name.rpartition("#")[0] if "#" in name else name
        if not tab or not image or not caption.strip():
            bad += 1
            continue
        pairs.append((image.strip(), caption.strip()))
    _report_malformed(path, bad)
    return pairs


def read_captions_csv(path: Path) -> list[tuple[str, str]]:
    """Parse an ``image,caption`` CSV. Unquoted commas inside a caption are kept as text."""
    rows = csv.reader(_read_lines(path))
    header = next(rows, None)
    if header is None:
        return []
    if [h.strip().lower() for h in header[:2]] != ["image", "caption"]:
        raise CaptionerError(f"{path}: expected a header 'image,caption', found {','.join(header)!r}")
    pairs, bad = [], 0
    for row in rows:
        image, caption = (row[0].strip(), ",".join(row[1:]).strip()) if row else ("", "")
        if not image or not caption:
            bad += 1
            continue
        pairs.append((image, caption))
    _report_malformed(path, bad)
    return pairs


def read_split_file(path: Path) -> list[str]:
    """One image name per line; blank lines ignored, order kept."""
    return [line.strip() for line in _read_lines(path) if line.strip()]


def _find_image_dir(root: Path) -> Path:
    for name in _IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    raise CaptionerError(f"no image folder in {root} (looked for {', '.join(_IMAGE_DIRS)})")


def _read_caption_file(root: Path) -> list[tuple[str, str]]:
    if (root / _TOKEN_FILE).is_file():
        path, pairs = root / _TOKEN_FILE, read_token_file(root / _TOKEN_FILE)
    elif (root / _CSV_FILE).is_file():
        path, pairs = root / _CSV_FILE, read_captions_csv(root / _CSV_FILE)
    else:
        raise CaptionerError(f"no caption file in {root} (expected {_TOKEN_FILE} or {_CSV_FILE})")
    if not pairs:
        raise CaptionerError(f"no captions in {path}: the file is empty or has no valid lines")
    return pairs


def _read_splits(root: Path, captions: dict[str, list[str]]) -> dict[str, list[str]]:
    if not any((root / f).is_file() for f in _SPLIT_FILES.values()):
        return derive_splits(sorted(captions))
    splits = {}
    for split, filename in _SPLIT_FILES.items():
        if not (root / filename).is_file():
            continue
        names = read_split_file(root / filename)
        kept = [n for n in names if n in captions]
        if len(kept) < len(names):
            absent = set(names) - set(kept)
            _warn_skipped(f"{len(absent)} image(s) of split {split!r} have no photo or no captions", absent)
        splits[split] = kept
    return splits


def derive_splits(names: list[str], dev: float = 0.1, test: float = 0.1, seed: int = 8) -> dict[str, list[str]]:
    """A reproducible split for data sets that ship none: shuffled with a fixed seed."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    n_test, n_dev = round(len(shuffled) * test), round(len(shuffled) * dev)
    return {
        "train": shuffled[n_test + n_dev:],
        "dev": shuffled[n_test:n_test + n_dev],
        "test": shuffled[:n_test],
    }


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise CaptionerError(f"cannot read {path}: {error.strerror}") from None


def _warn_skipped(what: str, names: set[str]) -> None:
    examples = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
    warnings.warn(f"{what}; skipped: {examples}", DataWarning, stacklevel=3)


def _report_malformed(path: Path, bad: int) -> None:
    if bad:
        warnings.warn(f"{path}: skipped {bad} malformed line(s)", DataWarning, stacklevel=3)


def split_images(data: CaptionSet, split: str, limit: int | None = None) -> list[str]:
    """The split's images in file order, the first ``limit`` of them if given."""
    names = data.split(split)
    if limit is not None:
        if limit < 1:
            raise CaptionerError(f"--limit must be at least 1, got {limit}")
        names = names[:limit]
    if not names:
        raise CaptionerError(f"split {split!r} has no usable images in {data.root}")
    return names

"""Pseudo-captions for photos known only by their labels (PS-NOC, Bujimalla et al. 2021).

A decoder that never saw a bicycle cannot say "bicycle" unless guidance makes it, and guidance fires only where
a probe is confident. PS-NOC's answer: caption the photos that are known only by their image labels ("has a
bicycle") with the held-out model itself, its constrained beam search made to name each label (a stand-in word
swapped back, :mod:`.rules`), and train the decoder again on those captions beside the real ones. The
decoder then learns the new word in sentences, and can say it where the probe alone is unsure.

In the novel-object protocol the label-only photos are the train photos whose captions name a held-out concept:
their captions are never read, only which held-out concepts they name (the labels DCC's probes are fitted on).

    python -m captioner pseudo-captions --model runs/heldout --out runs/heldout_pseudo_captions.txt
    python -m captioner train --recipe held_out_pseudo --out runs/heldout_pseudo

The file has Flickr8k's token-file form (``photo#i<TAB>caption``), so it can be read and checked by eye.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import CaptionerError
from ..data import CaptionSet, read_token_file, split_images
from ..decode import beam_search
from ..features import extract_features
from ..io import write_atomically
from ..serving import Captioner
from .concepts import named_by
from .recognition import RecognisedObject


class PseudoCaptionWarning(UserWarning):
    """A label the decoder cannot say (no word, no stand-in) got no pseudo-captions."""


# Captions per photo and label: the best few of the constrained search, so the new word is seen in more than
# one sentence per photo (a real photo has five).
CAPTIONS_PER_LABEL = 2


def label_only_photos(data: CaptionSet, concepts: Sequence[str], split: str = "train",
                      limit: int | None = None) -> dict[str, list[str]]:
    """The split's photos (its first ``limit``) whose captions name any of ``concepts``, with those concepts (their
    only labels)."""
    labels = {}
    for name in split_images(data, split, limit):
        if found := sorted(named_by(data.captions[name]) & set(concepts)):
            labels[name] = found
    return labels


def make_pseudo_captions(captioner: Captioner, data: CaptionSet, labels: dict[str, list[str]],
                         per_label: int = CAPTIONS_PER_LABEL, cache_dir: Path | None = None) -> dict[str, list[str]]:
    """Each photo's captions, ``per_label`` for each of its labels, from the model's constrained search."""
    if captioner.guidance is None:
        raise CaptionerError("pseudo-captions need a model with objects.npz (python -m captioner guide)")
    guidance = captioner.guidance
    names = list(labels)
    if not names:
        return {}
    features = extract_features(captioner.encoder, {n: data.image_path(n) for n in names}, cache_dir, progress=False)
    missing = [n for n in names if n not in features]
    if missing:
        raise CaptionerError(f"{len(missing)} label-only photo(s) could not be read, e.g. {missing[0]}")
    beam, length_penalty = captioner.search_settings(None, None)
    tag_of = {c: guidance.tag_for(RecognisedObject(c, 1.0, "concept")) for c in sorted(set().union(*labels.values()))}
    unsayable = [c for c, tag in tag_of.items() if tag is None]
    if unsayable:
        warnings.warn(f"no pseudo-captions for {', '.join(unsayable)}: the decoder has no word or stand-in for "
                      f"{'it' if len(unsayable) == 1 else 'them'}", PseudoCaptionWarning, stacklevel=2)
    pairs = [(n, c) for n in names for c in labels[n] if tag_of[c] is not None]
    if not pairs:
        return {}
    tags = [tag_of[c] for _, c in pairs]
    row_of = {n: i for i, n in enumerate(names)}
    rows = np.array([row_of[n] for n, _ in pairs])
    photo_features = np.stack([features[n] for n in names])[rows]
    required = np.zeros((len(pairs), len(captioner.vocab)), bool)
    for i, tag in enumerate(tags):
        required[i, list(tag.say)] = True
    banned = guidance.banned_words(guidance.recognise(photo_features), guidance.config, tags)
    found = beam_search(captioner.decoder, photo_features, captioner.vocab.max_length, max(beam, per_label),
                        length_penalty, banned=banned, required=required)
    captions: dict[str, list[str]] = {n: [] for n, _ in pairs}
    for (name, _), tag, candidates in zip(pairs, tags, found):
        said = [c for c in candidates if guidance.names_tag(c.ids, tag)][:per_label]
        captions[name] += [" ".join(guidance.caption_words(c.ids, tag)) for c in said]
    return {n: c for n, c in captions.items() if c}


def write_pseudo_captions(path: str | Path, captions: dict[str, list[str]]) -> None:
    lines = [f"{name}#{i}\t{caption}" for name, texts in captions.items() for i, caption in enumerate(texts)]
    write_atomically(Path(path), ("\n".join(lines) + "\n").encode())


def read_pseudo_captions(path: str | Path) -> dict[str, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise CaptionerError(f"no pseudo-captions file {path} (write it with python -m captioner pseudo-captions)")
    captions: dict[str, list[str]] = {}
    for name, caption in read_token_file(path):
        captions.setdefault(name, []).append(caption)
    if not captions:
        raise CaptionerError(f"{path} holds no pseudo-captions")
    return captions

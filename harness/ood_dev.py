"""ood-dev: everyday photos from outside Flickr8k (``../shared/ood-dev``), for checking and choosing thresholds only.

Each photo has the words that name its subject and whether a person is visible (its README says how it was made).
An answer is **confidently wrong** when it is not unsure and its alt text names none of the subject words, or
names a person where there is none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from captioner.data import REPO_ROOT
from captioner.guidance.concepts import names_person, plural

OOD_DEV = Path(os.environ.get("CAPTIONER_OOD_DEV", REPO_ROOT.parent / "shared" / "ood-dev"))


@dataclass(frozen=True)
class OodPhoto:
    name: str
    path: Path
    subject: tuple[str, ...]
    people: bool


def ood_photos(root: Path = OOD_DEV) -> list[OodPhoto]:
    """The photos in file-name order; an empty list where the set is not at hand."""
    labels_file = root / "labels.json"
    if not labels_file.is_file():
        return []
    labels = json.loads(labels_file.read_text())
    return [OodPhoto(name, root / "photos" / name, tuple(label["subject"]), bool(label["people"]))
            for name, label in sorted(labels.items())]


def words_of(text: str) -> list[str]:
    return "".join(c if c.isalpha() else " " for c in text.lower()).split()


def names_subject(text: str, subject: tuple[str, ...]) -> bool:
    """Whether ``text`` says one of the subject words (or its plural); two-word subjects as a phrase."""
    said = " " + " ".join(words_of(text)) + " "
    return any(f" {word} " in said or f" {plural(word)} " in said for word in subject)


def names_a_person(text: str) -> bool:
    return names_person(words_of(text))


def confidently_wrong(alt_text: str, unsure: bool, photo: OodPhoto) -> bool:
    if unsure:
        return False
    return not names_subject(alt_text, photo.subject) or (names_a_person(alt_text) and not photo.people)

"""Batch alt text for a photo library: caption a folder tree into CSV or JSON lines, resumably.

Rows are appended and flushed batch by batch, so an interrupted run keeps what it finished; run again
with the same output file and it captions only the photos not in it yet (a row cut off mid-write by the
interruption is dropped first). Unreadable files get a row with the reason in ``error``, and every row
names the model that wrote it, so a library captioned over several runs says which model wrote what.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import CaptionerError
from .model_folder import decoder_weight_files

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
FIELDS = ("image", "caption", "alt_text", "text", "confidence", "unsure", "note", "objects", "log_prob", "error",
          "model")
# Between the lines of text read in an image, in a row's one cell (a row stays one line of the file).
LINE_SEPARATOR = " | "
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection); a file named
# "=HYPERLINK(...).jpg" must stay a name.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` for a CSV cell: a leading quote keeps a spreadsheet from reading it as a formula."""
    return f"'{text}" if text.lstrip("'").startswith(FORMULA_STARTS) else text


def csv_unsafe(text: str) -> str:
    """The text :func:`csv_safe` was given (a name that began with quotes and a formula sign keeps them)."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS) else text


def find_images(paths: Sequence[Path], recursive: bool = False) -> list[Path]:
    """Files as given; folders walked for image files (by suffix) when ``recursive``, in sorted order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            if not recursive:
                raise CaptionerError(f"{path} is a folder: pass --recursive to caption the photos in it")
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            found.append(path)
        else:
            raise CaptionerError(f"{path} does not exist")
    return list(dict.fromkeys(found))  # each photo once, even when folders overlap


def model_version(card: dict) -> str:
    """``encoder, date, first 12 hex digits of the decoder weights' SHA-256`` (when the card records it).

    An ensemble's digest is the SHA-256 of its members' digests in order, so any retrained member shows.
    """
    checksums = card.get("checksums", {})
    digests = [checksums.get(name, {}).get("sha256", "") for name in decoder_weight_files(card)]
    digest = "" if not all(digests) else digests[0] if len(digests) == 1 else \
        hashlib.sha256("".join(digests).encode()).hexdigest()
    return " ".join(part for part in (card["encoder"]["name"], str(card.get("date", "")), digest[:12]) if part)


@dataclass
class Row:
    image: str
    caption: str = ""
    alt_text: str = ""  # as sure as the model is: the sentence, "Maybe ...", "May be a cat.", or empty
    text: str = ""  # the lines of text read in it, in reading order, joined by LINE_SEPARATOR
    confidence: float | None = None
    unsure: bool | None = None  # the alt text is hedged or says less than the caption (or nothing)
    note: str = ""  # why the alt text is empty, for the person who must write it
    objects: str = ""  # "dog 0.98; ball 0.41": what the classifier and probes saw, most probable first
    log_prob: float | None = None
    error: str = ""
    model: str = ""

    @classmethod
    def of(cls, image: str, result, model: str) -> "Row":
        """The row for one photo's :class:`captioner.serving.CaptionResult`."""
        if result.error:
            return cls(image, error=result.error, model=model)
        objects = result.guidance.objects if result.guidance else []
        confidence = None if result.confidence is None else round(result.confidence, 3)
        unsure = None if result.guidance is None else result.guidance.unsure
        text = LINE_SEPARATOR.join(line.text for line in result.text_lines)
        return cls(image, result.caption, result.alt_text, text, confidence, unsure, result.note or "",
                   "; ".join(f"{o.word} {o.probability:.2f}" for o in objects if o.probability >= OBJECT_FLOOR),
                   round(result.candidates[0][1], 4), model=model)


# Objects less probable than this are left out of a row.
OBJECT_FLOOR = 0.1


class CaptionFile:
    """The output file: CSV with a header, or JSON lines, by its suffix; appended to, never rewritten."""

    def __init__(self, path: Path):
        self.path = path
        self.format = FORMATS.get(path.suffix.lower())
        if self.format is None:
            raise CaptionerError(f"--out {path}: use a .csv or .jsonl file name")

    def finished_images(self) -> set[str]:
        """The images already in the file, after dropping a last row the interruption cut off."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        text = self._repair()
        if self.format == "jsonl":
            try:
                return {json.loads(line)["image"] for line in text.splitlines() if line.strip()}
            except (ValueError, KeyError, TypeError):
                raise CaptionerError(f"{self.path} is not a JSON lines file this command wrote") from None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or tuple(rows[0]) != FIELDS:
            raise CaptionerError(f"{self.path} is not a CSV file this version wrote (its header differs): "
                                 f"use a new --out file")
        return {csv_unsafe(row[0]) for row in rows[1:] if row}

    def _repair(self) -> str:
        data = self.path.read_bytes()
        if not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]  # the torn last row (or all of it, when it is the only one)
            with open(self.path, "r+b") as file:
                file.truncate(len(data))
        return data.decode("utf-8")

    def append(self, rows: Iterable[Row]) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", encoding="utf-8", newline="") as file:
            if self.format == "csv":
                writer = csv.DictWriter(file, FIELDS, lineterminator="\n")
                if new:
                    writer.writeheader()
                writer.writerows({k: "" if v is None else csv_safe(v) if isinstance(v, str) else v
                                  for k, v in asdict(row).items()} for row in rows)
            else:
                file.writelines(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows)
            file.flush()
            os.fsync(file.fileno())


@dataclass
class Summary:
    captioned: int
    unreadable: int
    already_done: int


def caption_library(captioner, images: Sequence[Path], out: Path, beam_size: int = 3, batch_size: int = 32,
                    progress: bool = True) -> Summary:
    """Caption ``images`` into ``out``, skipping those it already holds; rows land batch by batch."""
    from tqdm import tqdm

    output = CaptionFile(out)
    done = output.finished_images()
    todo = [p for p in images if str(p) not in done]
    version = model_version(captioner.card)
    captioned = unreadable = 0
    with tqdm(total=len(todo), unit="photo", disable=not progress, desc="captioning") as bar:
        for start in range(0, len(todo), batch_size):
            batch = [str(p) for p in todo[start:start + batch_size]]
            rows = []
            for result in captioner.caption_sources(batch, batch_size, beam_size):
                unreadable += bool(result.error)
                captioned += not result.error
                rows.append(Row.of(result.source, result, version))
            output.append(rows)
            bar.update(len(batch))
    return Summary(captioned, unreadable, len(images) - len(todo))

"""Caption text: cleaning, start/end tokens and the vocabulary.

The vocabulary is saved as JSON, never pickled: a pickled Keras ``Tokenizer`` breaks across Keras
versions, while a list of words in index order loads anywhere.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from . import CaptionerError
from .io import write_atomically

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
SPECIAL_TOKENS = (PAD, UNK, START, END)
PAD_ID, UNK_ID, START_ID, END_ID = range(4)

_NON_LETTER = re.compile(r"[^a-z0-9\s]")


def clean_caption(text: str) -> list[str]:
    """Lower-case words of letters only.

    Punctuation is removed (so ``dog's`` becomes ``dogs``), tokens with digits are dropped, and so are
    one-letter leftovers other than the article ``a``.
    """
    words = _NON_LETTER.sub("", text.lower().replace("-", " ")).split()
    return [w for w in words if w.isalpha() and (len(w) > 1 or w == "a")]


class Vocabulary:
    """Words in index order: ``<pad>`` is 0 (the mask value), then ``<unk>``, ``<start>``, ``<end>``."""

    def __init__(self, words: Sequence[str], max_length: int, min_count: int = 1):
        if tuple(words[:4]) != SPECIAL_TOKENS:
            raise CaptionerError(f"a vocabulary must start with {SPECIAL_TOKENS}")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.max_length = max_length  # longest training caption in tokens, <start> and <end> included
        self.min_count = min_count

    @classmethod
    def build(cls, captions: Iterable[Sequence[str]], min_count: int = 1) -> "Vocabulary":
        """Keep the words seen at least ``min_count`` times; most frequent first, ties alphabetical."""
        captions = list(captions)
        if not captions:
            raise CaptionerError("cannot build a vocabulary from no captions")
        counts = Counter(word for caption in captions for word in caption)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        max_length = max(len(caption) for caption in captions) + 2
        return cls(list(SPECIAL_TOKENS) + kept, max_length=max_length, min_count=min_count)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """``<start> w1 ... wn <end>`` as ids; unknown words become ``<unk>``."""
        return [START_ID] + [self.index.get(t, UNK_ID) for t in tokens] + [END_ID]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words up to the first ``<end>``, without special tokens."""
        words = []
        for i in ids:
            if i == END_ID:
                break
            if i >= len(SPECIAL_TOKENS):
                words.append(self.words[i])
        return words

    def to_dict(self) -> dict:
        return {"words": self.words, "max_length": self.max_length, "min_count": self.min_count}

    def save(self, path: str | Path) -> None:
        write_atomically(Path(path), json.dumps(self.to_dict(), indent=0).encode())

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["words"], max_length=int(data["max_length"]), min_count=int(data.get("min_count", 1)))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CaptionerError(f"cannot load vocabulary {path}: {error}") from None


def tokenize(captions: dict[str, list[str]]) -> dict[str, list[list[str]]]:
    """Clean every caption of every image; captions with no word left are dropped."""
    tokenized = {}
    for name, texts in captions.items():
        tokenized[name] = [tokens for tokens in map(clean_caption, texts) if tokens]
    return tokenized

"""Spaces the recogniser dropped, put back: "NOPARKING" read as "NO PARKING".

PP-OCRv4's recogniser reads a space only where the gap is wide; between big capitals or across a tight sign it
runs words together ("SportsCentre", "AT ALLTIMES"). The gap between the characters is no help here: its columns
are 8 pixels apart, as coarse as the gap itself, and cutting the line's pixels at blank columns splits letters
("PROH IB ITE D"). So a run of letters that is not an English word is split where it falls into the fewest
English words, each of at least two letters (and the two-letter ones common words); what does not split that
way (a name, a code) is left as it is. The words are SCOWL's (``tools/make_word_list.py``).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

WORD_LIST_FILE = Path(__file__).parents[1] / "resources" / "english_words.txt.gz"
# Two-letter words a piece may be: SCOWL also lists abbreviations ("mr", "st", "pa") that would split names.
SHORT_WORDS = frozenset("am an as at be by do go he if in is it me my no of on or so to up us we".split())
# Runs shorter than this are left alone: few of them are two words, and many are codes or abbreviations.
MIN_RUN = 5
LETTERS = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    with gzip.open(WORD_LIST_FILE, "rt", encoding="utf-8") as file:
        return frozenset(file.read().split())


def restore_spaces(text: str) -> str:
    """``text`` with each run of letters that is not a word but is several words split into them."""
    return LETTERS.sub(lambda match: " ".join(split_run(match.group())), text)


def split_run(run: str) -> list[str]:
    """``run`` as the fewest words it is made of (its own case kept), or ``[run]`` where it is a word or no split
    into words exists."""
    words = english_words()
    lower = run.lower()
    if len(run) < MIN_RUN or lower in words:
        return [run]
    # fewest[i]: the fewest words that make lower[:i], and where the last one starts (ties: the longer last word)
    fewest: list[tuple[int, int] | None] = [(0, 0)] + [None] * len(lower)
    for end in range(2, len(lower) + 1):
        for start in range(end - 2, -1, -1):
            before = fewest[start]
            piece = lower[start:end]
            if before is None or piece not in words or (len(piece) == 2 and piece not in SHORT_WORDS):
                continue
            if fewest[end] is None or before[0] + 1 < fewest[end][0]:
                fewest[end] = (before[0] + 1, start)
    if fewest[-1] is None:
        return [run]
    pieces, end = [], len(run)
    while end > 0:
        start = fewest[end][1]
        pieces.append(run[start:end])
        end = start
    return pieces[::-1]

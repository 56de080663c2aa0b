"""How well a reading matches the text: the character error rate, over letters and digits."""

from __future__ import annotations


def character_error_rate(read: str, truth: str) -> float:
    """Edits (insertions, deletions, substitutions) to turn ``read`` into ``truth``, over ``truth``'s length,
    counting letters and digits only: spaces and punctuation are left out, case is kept."""
    said, meant = kept(read), kept(truth)
    return edit_distance(said, meant) / max(len(meant), 1)


def word_error_rate(read: str, truth: str) -> float:
    """Words inserted, dropped or changed, over ``truth``'s words: where the character error rate ignores spaces,
    this counts them (two words run together are one change and one drop). Words are compared by their letters and
    digits, case kept."""
    said, meant = words(read), words(truth)
    return edit_distance(said, meant) / max(len(meant), 1)


def words(text: str) -> list[str]:
    return [word for word in map(kept, text.split()) if word]


def kept(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def edit_distance(a: str | list[str], b: str | list[str]) -> int:
    """Levenshtein distance, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]

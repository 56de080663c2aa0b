"""Which things a caption names: people, and the objects that hallucination and novel-object figures count.

A caption "names a person" when one of its words is in :data:`PERSON_WORDS`; it names an object when one
of its words is in that object's group of :data:`OBJECT_GROUPS` (synonyms and plurals, as CHAIR groups
COCO's objects: Rohrbach et al., EMNLP 2018). Two-word names (:data:`COMPOUNDS`) are read as one word first,
as CHAIR reads "motor bike": a dirt bike is a motorcycle, a hot dog no dog. The groups are Flickr8k's frequent
nameable things; guidance, the metrics (:mod:`captioner.metrics`) and the held-out-concept protocol read them.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .. import CaptionerError
from ..text import clean_caption

IRREGULAR_PLURALS = {
    "man": "men", "woman": "women", "child": "children", "person": "people", "mouse": "mice", "goose": "geese",
    "foot": "feet", "tooth": "teeth", "sheep": "sheep", "fish": "fish", "deer": "deer", "bison": "bison",
}


def plural(word: str) -> str:
    """English plural of a noun, by the common rules (good for the words here, not for every noun)."""
    last = word.split()[-1]
    head = word[: len(word) - len(last)]
    if last in IRREGULAR_PLURALS:
        return head + IRREGULAR_PLURALS[last]
    if last.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def article(word: str) -> str:
    """The indefinite article for ``word``, by its first letter (good for the words here)."""
    return "an" if word[:1] in "aeiou" else "a"


def _with_plurals(*words: str) -> frozenset[str]:
    return frozenset(words) | frozenset(plural(w) for w in words)


PERSON_WORDS = _with_plurals(
    "man", "woman", "person", "boy", "girl", "child", "kid", "baby", "toddler", "lady", "guy", "gentleman",
    "player", "biker", "cyclist", "bicyclist", "rider", "skier", "surfer", "swimmer", "climber", "snowboarder",
    "skateboarder", "skater", "rollerblader", "crowd", "family", "couple", "teenager", "teen", "adult", "worker",
    "dancer", "bride", "groom", "soldier", "officer", "policeman", "cowboy", "mother", "father", "son",
    "daughter", "brother", "sister", "wrestler", "boxer", "runner", "hiker", "fisherman", "performer",
    "musician", "singer", "guitarist", "drummer", "athlete", "goalie", "referee", "student", "tourist",
    "spectator", "audience", "motorcyclist", "jockey", "diver", "kayaker", "someone", "team", "friend",
    "infant", "youngster", "pedestrian", "male", "female", "human", "individual", "toddler", "surfer", "shopper", "vendor", "artist", "clown", "cheerleader", "batter",
    "pitcher", "catcher", "football", "group",
) - {"football", "group", "footballs", "groups", "pitchers"}  # "a group of dogs", "a football": not people

# Two-word names whose last word alone would name another thing (or a thing where there is none), read as one
# word. 129 Flickr8k captions say "dirt bike(s)" and 22 "motocross bike(s)", of motorcycles; 4 say "hot dog(s)".
MOTORCYCLE_COMPOUNDS = _with_plurals("dirt bike", "motocross bike", "motorized bike", "sport bike")
COMPOUNDS = MOTORCYCLE_COMPOUNDS | _with_plurals("hot dog")

# Flickr8k's frequent nameable things, each with its synonyms and plurals.
OBJECT_GROUPS: dict[str, frozenset[str]] = {
    "person": PERSON_WORDS,
    "dog": _with_plurals("dog", "puppy", "pup", "poodle", "terrier", "retriever", "collie", "dachshund"),
    "cat": _with_plurals("cat", "kitten", "kitty"),
    "horse": _with_plurals("horse", "pony", "foal", "stallion", "mare"),
    "bird": _with_plurals("bird", "duck", "goose", "seagull", "gull", "pigeon", "swan", "chicken", "parrot"),
    "cow": _with_plurals("cow", "bull", "calf", "cattle", "ox"),
    "sheep": _with_plurals("sheep", "lamb", "goat"),
    "bicycle": _with_plurals("bicycle", "bike", "cycle", "tricycle"),
    "motorcycle": _with_plurals("motorcycle", "motorbike", "moped", "scooter", "dirtbike") | MOTORCYCLE_COMPOUNDS,
    "car": _with_plurals("car", "jeep", "taxi", "vehicle"),
    "truck": _with_plurals("truck", "van", "tractor"),
    "bus": _with_plurals("bus"),
    "train": _with_plurals("train", "subway", "tram"),
    "boat": _with_plurals("boat", "canoe", "kayak", "raft", "sailboat", "ship", "yacht"),
    "guitar": _with_plurals("guitar"),
    "ball": _with_plurals("ball", "football", "basketball", "volleyball", "soccerball"),
    "frisbee": _with_plurals("frisbee"),
    "skateboard": _with_plurals("skateboard"),
    "surfboard": _with_plurals("surfboard"),
    "snowboard": _with_plurals("snowboard"),
    "umbrella": _with_plurals("umbrella"),
    "camera": _with_plurals("camera"),
    "kite": _with_plurals("kite"),
    "tent": _with_plurals("tent"),
    "bench": _with_plurals("bench"),
    "chair": _with_plurals("chair"),
    "table": _with_plurals("table"),
}


def names_person(words: Iterable[str]) -> bool:
    return not PERSON_WORDS.isdisjoint(words)


def joined(words: Sequence[str]) -> list[str]:
    """The words with each two-word name of :data:`COMPOUNDS` joined into one: "a dirt bike" -> a, dirt bike."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and (pair := f"{words[i]} {words[i + 1]}") in COMPOUNDS:
            out.append(pair)
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def objects_named(words: Sequence[str]) -> set[str]:
    """The groups of :data:`OBJECT_GROUPS` whose words occur in ``words`` (a caption's words, in order)."""
    words = set(joined(list(words)))
    return {group for group, members in OBJECT_GROUPS.items() if not members.isdisjoint(words)}


def named_by(references: Iterable[str]) -> set[str]:
    """The groups any of a photo's reference captions (raw text, cleaned here) names: its labels."""
    return set().union(*(objects_named(clean_caption(r)) for r in references))


def without_concepts(images: list[str], captions: dict[str, list[str]], concepts: Sequence[str]) -> list[str]:
    """The images none of whose captions names any of ``concepts`` (groups of :data:`OBJECT_GROUPS`): the photos a
    decoder trained without those concepts may see (the novel-object protocol)."""
    unknown = set(concepts) - set(OBJECT_GROUPS)
    if unknown:
        raise CaptionerError(f"unknown concept(s) {', '.join(sorted(unknown))} (choose from: {', '.join(OBJECT_GROUPS)})")
    if not concepts:
        return images
    held = set(concepts)
    return [n for n in images if not named_by(captions[n]) & held]

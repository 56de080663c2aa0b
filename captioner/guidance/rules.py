"""The rules of guided captions: name what the classifier sees, invent no one, and say when unsure.

The decoder learned its words from 6,000 Flickr8k photos, mostly of people and dogs; the encoder's classifier
and the concept probes (:mod:`.recognition`) know far more. Three rules, each with a threshold chosen on
the dev split (``python -m captioner guide``, :mod:`.fitting`) and recorded in the model card's
``guidance`` (:class:`GuidanceConfig`); :class:`Guidance` applies them to a batch of photos:

1. **Tags.** The most probable thing (a concept probe's or an ImageNet word's probability, at least
   ``tag_threshold``) must be named: when the plain caption does not, constrained beam search (Anderson et
   al., EMNLP 2017) finds the best caption that does. A word the decoder never learned ("lion") is steered
   with the nearest word it knows (WordNet's ranking, ``cat``) and swapped back in the text (as DCC transfers
   a known word's place to a new one: Hendricks et al., CVPR 2016).
2. **People, and things.** Below ``person_threshold`` of the person probe, person words are banned from the
   search. A probed thing's words ("dog", "ball", "bike") are banned where nothing they could name reaches
   ``object_word_threshold``, by its probe or the ImageNet layer's words for it (CHAIR's hallucinated objects,
   Rohrbach et al., EMNLP 2018, stopped at the search rather than counted after it). The words a decoder
   learned only from pseudo-captions (:mod:`.pseudo_captions`) have a threshold of their own,
   ``pseudo_word_threshold``: such a decoder says them too readily.
3. **Confidence.** A logistic model over the caption's per-word log-probability and the tag and person
   probabilities, fitted on dev to "the caption names nothing the references do not, and something they do",
   gives ``confidence``; below ``confidence_threshold`` the alt text says the caption may be wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import CaptionerError
from ..text import Vocabulary
from .concepts import OBJECT_GROUPS, PERSON_WORDS, article, joined, objects_named, plural
from .kinds import ImageKind
from .novelty import NoveltyIndex
from .people import PersonDetector
from .recognition import ObjectRecogniser, RecognisedObject, Recognition, fit_logistic, imagenet_words


@dataclass(frozen=True)
class GuidanceConfig:
    """The thresholds and calibration a model card records under ``guidance``."""

    tag_threshold: float = 0.5
    person_threshold: float = 0.3
    confidence_threshold: float = 0.5
    # confidence = sigmoid(w . confidence_inputs + b): (w..., b), fitted on dev
    calibration: tuple[float, ...] = (4.0, 0.0, 0.0, 0.0, 1.0)
    # concepts whose words the decoder learned only from pseudo-captions, said only where their probe gives this
    pseudo_concepts: tuple[str, ...] = ()
    pseudo_word_threshold: float = 0.0
    # every other probed thing's words are said only where a thing they name is this probable (0: always)
    object_word_threshold: float = 0.0
    # Person words need evidence: the probe at ``person_threshold`` suffices where the photo is typical of Flickr8k
    # (novelty at most ``typical_novelty``); elsewhere a detector must see someone and the probe give at least
    # ``person_detected_threshold``. The defaults (1.0, above 1) are the probe alone everywhere.
    typical_novelty: float = 1.0
    person_detected_threshold: float = 1.01
    # The rarest ``rare_share`` of Flickr8k dev's photos have their confidence scaled down by their rarity (0: none).
    rare_share: float = 0.0
    # Below ``confidence_threshold`` an answer is unsure: it says only a thing at least ``sure_thing_threshold``
    # probable ("May be a cheetah."), or nothing; from there up to ``sure_threshold`` it is hedged ("Maybe ...").
    sure_threshold: float = 0.0
    sure_thing_threshold: float = 0.5
    # A concept probe's thing is said there only where the ImageNet layer gives it at least this much too: the probes
    # learned from Flickr8k alone, and fire on what merely looks like its photos (a leaf, a wooden floor: "dog").
    sure_thing_support: float = 0.0

    @classmethod
    def from_card(cls, entry: dict | None) -> "GuidanceConfig":
        entry = dict(entry or {})
        entry.pop("chosen_on", None)
        for name in ("calibration", "pseudo_concepts"):
            if name in entry:
                entry[name] = tuple(entry[name])
        return cls(**entry)

    def card(self) -> dict:
        return {**asdict(self), "calibration": list(self.calibration), "pseudo_concepts": list(self.pseudo_concepts)}


@dataclass(frozen=True)
class Tag:
    """A thing to name: the word shown, and the decoder's words that count as naming it."""

    word: str
    probability: float
    kind: str
    say: frozenset[int]  # vocabulary ids: any of them names the tag
    stand_in: str | None = None  # the known word steered with, when the decoder never learned ``word``


class Guidance:
    """Tags, bans and confidence for a model: its vocabulary, recogniser and recorded thresholds (``config``), and
    where the model folder has them, its novelty index and person detector."""

    def __init__(self, vocab: Vocabulary, recogniser: ObjectRecogniser, config: GuidanceConfig,
                 novelty: NoveltyIndex | None = None, detector: PersonDetector | None = None):
        self.vocab, self.recogniser, self.config = vocab, recogniser, config
        self.novelty, self.detector = novelty, detector
        self.person_ids = sorted(vocab.index[w] for w in PERSON_WORDS if w in vocab.index)
        self.group_of_word = {w: g for g, members in OBJECT_GROUPS.items() if g != "person" for w in members}
        self.thing_word_ids, self.things_named = self._thing_words()
        # ImageNet words that are a probed thing ("dog": 118 breeds), as top_objects() counts them for that thing
        self.imagenet_things = [(i, self.recogniser.concepts.index(thing))
                                for i, word in enumerate(self.recogniser.words)
                                if (thing := self.group_of_word.get(word, word)) in self.recogniser.concepts]
        # (words, concepts): 1 where the word is that thing; words @ it sums the ImageNet layer's say for each thing
        self.words_of_thing = np.zeros((len(self.recogniser.words), len(self.recogniser.concepts)), np.float32)
        for word, concept in self.imagenet_things:
            self.words_of_thing[word, concept] = 1.0
        self.similar = imagenet_words()["similar"]

    # --- what is in the photo ----------------------------------------------------------------------------

    def recognise(self, features: np.ndarray) -> Recognition:
        """The ImageNet layer's words, the concept probes and the novelty over a batch of features: one pass, for
        every rule. Without a novelty index every photo counts as typical (0)."""
        seen = self.recogniser.recognise(features)
        novelty = self.novelty.novelty(features) if self.novelty is not None else np.zeros(len(features))
        return dataclasses.replace(seen, novelty=novelty)

    def top_objects(self, seen: Recognition, top: int = 5) -> list[list[RecognisedObject]]:
        """Each photo's most probable things: concept probes' and ImageNet words', one entry per thing."""
        results = []
        imagenet_says = seen.words @ self.words_of_thing
        for word_row, concept_row, support_row in zip(seen.words, seen.concepts, imagenet_says):
            best: dict[str, RecognisedObject] = {}
            for name, p, support in zip(self.recogniser.concepts, concept_row, support_row):
                best[name] = RecognisedObject(name, float(p), "person" if name == "person" else "concept",
                                              float(support))
            for w in np.argsort(-word_row, kind="stable")[: 3 * top]:
                word = self.recogniser.words[w]
                thing = self.group_of_word.get(word, word)
                if thing not in best or best[thing].probability < word_row[w]:
                    best[thing] = RecognisedObject(word if thing == word else thing, float(word_row[w]),
                                                   self.recogniser.kinds[w], float(word_row[w]))
            results.append(sorted(best.values(), key=lambda o: -o.probability)[:top])
        return results

    def thing_probabilities(self, seen: Recognition) -> np.ndarray:
        """(photos, concepts): how likely each probed thing is, by its probe or the ImageNet layer's words for it,
        whichever says more (as :meth:`top_objects` ranks them)."""
        things = seen.concepts.copy()
        for word, concept in self.imagenet_things:
            things[:, concept] = np.maximum(things[:, concept], seen.words[:, word])
        return things

    def person_probability(self, seen: Recognition) -> np.ndarray:
        return seen.concepts[:, self.recogniser.concepts.index("person")]

    def probe_suffices(self, seen: Recognition, config: GuidanceConfig) -> np.ndarray:
        """(photos,): where the person probe alone lets person words through: confident, on a typical photo."""
        return (self.person_probability(seen) >= config.person_threshold) & (seen.novelty <= config.typical_novelty)

    def needs_detector(self, seen: Recognition, config: GuidanceConfig) -> np.ndarray:
        """(photos,): where the probe leans to a person but does not suffice alone: a detector decides."""
        leans = self.person_probability(seen) >= config.person_detected_threshold
        return leans & ~self.probe_suffices(seen, config)

    def person_allowed(self, seen: Recognition, config: GuidanceConfig, detected: np.ndarray | None) -> np.ndarray:
        """(photos,): where person words may be said; ``detected`` is where a detector saw someone (None: nowhere)."""
        allowed = self.probe_suffices(seen, config)
        if detected is not None:
            allowed = allowed | (detected & (self.person_probability(seen) >= config.person_detected_threshold))
        return allowed

    def detect_people(self, seen: Recognition, config: GuidanceConfig, pixels) -> np.ndarray | None:
        """(photos,): whether a detector sees someone, run only where :meth:`needs_detector` (False elsewhere);
        None without a detector or pixels. ``pixels`` is the encoder's input, an array or a function of the row."""
        if self.detector is None or pixels is None:
            return None
        detected = np.zeros(len(seen.concepts), bool)
        for row in np.flatnonzero(self.needs_detector(seen, config)):
            detected[row] = self.detector.sees_person(pixels(row) if callable(pixels) else pixels[row])
        return detected

    def person_word_ban(self, allowed: np.ndarray) -> np.ndarray:
        """(photos, vocabulary): person words banned where they are not ``allowed``."""
        mask = np.zeros((len(allowed), len(self.vocab)), bool)
        mask[np.ix_(~allowed, self.person_ids)] = True
        return mask

    def _thing_words(self) -> tuple[list[int], np.ndarray]:
        """The vocabulary ids of probed things' words, and (words, concepts) which probed things each can name:
        its groups', and those of the two-word names it ends ("bike": a bicycle, or a motorcycle as "dirt bike")."""
        probed = {c: i for i, c in enumerate(self.recogniser.concepts) if c != "person"}
        names: dict[int, set[int]] = {}
        for concept, members in OBJECT_GROUPS.items():
            for word in members if concept in probed else ():
                if (ids := self.vocab.index.get(word.split()[-1])) is not None:
                    names.setdefault(ids, set()).add(probed[concept])
        word_ids = sorted(names)
        things = np.zeros((len(word_ids), len(self.recogniser.concepts)), bool)
        for row, word_id in enumerate(word_ids):
            things[row, sorted(names[word_id])] = True
        return word_ids, things

    def banned_words(self, seen: Recognition, config: GuidanceConfig, tags: list[Tag | None],
                     detected: np.ndarray | None = None) -> np.ndarray:
        """(photos, vocabulary): person words where no person is evidenced (:meth:`person_allowed`), and a probed
        thing's words where no thing they name is likely (by :meth:`thing_probabilities`, below
        ``object_word_threshold``; by its probe, below ``pseudo_word_threshold``, for a concept learned from
        pseudo-captions); never a photo's own tag's words, which it must say."""
        banned = self.person_word_ban(self.person_allowed(seen, config, detected))
        if not config.pseudo_concepts and config.object_word_threshold <= 0:
            return banned
        for concept in config.pseudo_concepts:
            if concept not in self.recogniser.concepts:
                raise CaptionerError(f"the guidance bans {concept!r} words by a probe the model does not have")
        # Pseudo-learned words by their probes alone, as their ban was chosen in the held-out experiment; other
        # things' words by whatever sees them (thing_probabilities).
        pseudo = np.isin(self.recogniser.concepts, config.pseudo_concepts)
        likely = np.where(pseudo, seen.concepts >= config.pseudo_word_threshold,
                          self.thing_probabilities(seen) >= config.object_word_threshold)  # (photos, concepts)
        things = np.zeros_like(banned)
        things[:, self.thing_word_ids] = ~(likely.astype(np.float32) @ self.things_named.T.astype(np.float32) > 0)
        for row, tag in enumerate(tags):
            if tag is not None:
                things[row, list(tag.say)] = False
        return things | banned

    def choose_tag(self, objects: list[RecognisedObject], threshold: float) -> Tag | None:
        """The most probable sayable thing other than a person, if it is at least ``threshold`` probable."""
        for thing in objects:  # most probable first
            if thing.probability < threshold:
                return None
            if thing.kind != "person" and (tag := self.tag_for(thing)) is not None:
                return tag
        return None

    def tag_for(self, thing: RecognisedObject) -> Tag | None:
        """The tag with the vocabulary ids that name it; a stand-in word where the decoder has none."""
        members = OBJECT_GROUPS.get(thing.word, frozenset()) | {thing.word, plural(thing.word)}
        say = frozenset(self.vocab.index[w] for w in members if w in self.vocab.index)
        if say:
            return Tag(thing.word, thing.probability, thing.kind, say)
        for other in self.similar.get(thing.word, []):
            ids = frozenset(self.vocab.index[w] for w in (other, plural(other)) if w in self.vocab.index)
            if ids:
                return Tag(thing.word, thing.probability, thing.kind, ids, stand_in=other)
        return None

    # --- the caption's words ---------------------------------------------------------------------------

    def names_tag(self, ids: list[int], tag: Tag) -> bool:
        """Whether the caption says the tag: one of its words, or a two-word name of its group ("dirt bike" names
        a motorcycle); the "bike" of "dirt bike" names no bicycle."""
        words = joined(self.vocab.decode(ids))
        if any(self.vocab.index.get(w) in tag.say for w in words):
            return True
        return tag.stand_in is None and tag.word in objects_named(words)

    def caption_words(self, ids: list[int], tag: Tag | None) -> list[str]:
        """The caption's words, the stand-in swapped for the tag's word and "a"/"an" agreed with it."""
        words = self.vocab.decode(ids)
        if tag is None or tag.stand_in is None:
            return words
        swap = {tag.stand_in: tag.word, plural(tag.stand_in): plural(tag.word)}
        words = [swap.get(w, w) for w in words]
        for i in range(len(words) - 1):
            if words[i] in ("a", "an") and words[i + 1] in swap.values():
                words[i] = article(words[i + 1])
        return words

    # --- how sure ----------------------------------------------------------------------------------------

    @staticmethod
    def confidence_inputs(log_prob_per_word: float, tag_probability: float, guided: bool,
                          person_probability: float) -> np.ndarray:
        """What the calibration weighs: the decoder's per-word log-probability, the top tag's probability,
        whether the search was made to name it, and how decided the person probe is."""
        return np.array([log_prob_per_word, tag_probability, float(guided), abs(2 * person_probability - 1)])

    @staticmethod
    def calibrated(inputs: np.ndarray, config: GuidanceConfig) -> float:
        """How often a Flickr8k dev caption with these inputs was correct (the calibration, fitted on dev)."""
        *weights, bias = config.calibration
        return float(1 / (1 + np.exp(-(inputs @ np.asarray(weights) + bias))))

    def typicality(self, novelty: float, config: GuidanceConfig) -> float:
        """1 for a photo among the commoner ``1 - rare_share`` of Flickr8k's; for a rarer one, its rarity (the share
        of dev photos at least as far: a conformal p-value) over ``rare_share``, falling to nothing beyond them all."""
        if config.rare_share <= 0 or self.novelty is None:
            return 1.0
        photos = len(self.novelty.dev_distances)
        p_value = (1 + photos * (1.0 - novelty)) / (photos + 1)
        return min(1.0, p_value / config.rare_share)

    def confidence(self, inputs: np.ndarray, config: GuidanceConfig, novelty: float = 0.0) -> float:
        """The calibrated confidence, scaled down on a photo rarer than Flickr8k's photos (:meth:`typicality`): the
        calibration has only seen Flickr8k, and a caption of a photo unlike those it learned from is rarely right."""
        return self.calibrated(inputs, config) * self.typicality(novelty, config)

    def how_sure(self, evidence: np.ndarray, novelty: float, objects: list[RecognisedObject],
                 config: GuidanceConfig) -> tuple[float, str, str | None]:
        """A photo's confidence, its certainty, and for an unsure answer what it may still say (:meth:`sure_thing`)."""
        confidence = self.confidence(evidence, config, novelty)
        certainty = self.certainty(confidence, config)
        return confidence, certainty, self.sure_thing(objects, config) if certainty == "unsure" else None

    @staticmethod
    def certainty(confidence: float, config: GuidanceConfig) -> str:
        """confident (the sentence), hedged ("Maybe ...") or unsure (only what it is fairly sure of)."""
        if confidence < config.confidence_threshold:
            return "unsure"
        return "hedged" if confidence < config.sure_threshold else "confident"

    @staticmethod
    def sure_thing(objects: list[RecognisedObject], config: GuidanceConfig) -> str | None:
        """What an unsure answer may still say: the most probable thing, if at least ``sure_thing_threshold``
        probable, and for a concept probe's thing, one the ImageNet layer supports (``sure_thing_support``). Never a
        person: where the model is unsure, a person is the commonest wrong guess (the probe learned "person" from
        Flickr8k, and the detectors' false alarms fall on exactly the photos that are unlike it)."""
        for thing in objects:  # most probable first
            if thing.probability < config.sure_thing_threshold:
                return None
            if thing.kind == "person":
                continue
            if thing.kind == "concept" and thing.imagenet_probability < config.sure_thing_support:
                continue
            return thing.word
        return None


@dataclass
class GuidedCaption:
    """What guidance adds to a caption: the things seen, the tag named (if any), how sure it is."""

    objects: list[RecognisedObject] = field(default_factory=list)
    tag: Tag | None = None  # the tag the caption names; None also where the search could not say the one tried
    guided: bool = False  # the plain caption did not name the tag; the constrained search made it
    person_probability: float = 0.0
    confidence: float = 1.0
    certainty: str = "confident"  # confident, hedged or unsure (Guidance.certainty)
    sure_of: str | None = None  # what an unsure answer says ("May be a cheetah."); None: nothing, a person must
    novelty: float = 0.0  # the share of Flickr8k dev photos at most as far from the training photos (0 ... 1)
    person_detected: bool | None = None  # whether a detector saw someone; None where none ran
    kind: ImageKind = ImageKind("photo")  # for an image that is not a photo, what can be said instead
    evidence: tuple[float, ...] = ()  # what the confidence weighed (Guidance.confidence_inputs); calibration refits on it
    tried: Tag | None = None  # the tag chosen before the search, named or not
    ids: tuple[int, ...] = ()  # the best caption as the decoder said it (a stand-in word, not the tag's word)

    @property
    def unsure(self) -> bool:
        """Not a confident sentence: hedged or unsure (the API's ``unsure``)."""
        return self.certainty != "confident"


def fit_calibration(inputs: np.ndarray, correct: np.ndarray, l2: float = 1.0) -> tuple[float, ...]:
    """Logistic regression of ``correct`` on the confidence inputs (rows of :meth:`Guidance.confidence_inputs`)."""
    weights, bias = fit_logistic(inputs, correct, l2=l2)
    return (*map(float, weights), float(bias))

"""What is in a photo: the encoder's own ImageNet classifier and concept probes, over the same features.

EfficientNet-Lite's 1,000-class classifier is one dense layer over the 1280 pooled features the decoder
reads, so it runs in NumPy on those features: no second pass through the encoder. Its classes are
summed into plain words (120 dog breeds are one "dog"; ``resources/imagenet_words.json``, made from WordNet
by ``tools/make_imagenet_words.py``). ImageNet has no class for a person, and Flickr8k's things are often
small parts of a scene, so logistic probes over the same features, one per concept of
:data:`.concepts.OBJECT_GROUPS` (person, dog, bicycle, ...), fitted on the training photos' labels
(does a caption name it?), say how likely each is: DCC's lexical classifiers (Hendricks et al., CVPR 2016).
Both live in the model folder's ``objects.npz``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..io import atomic_path

IMAGENET_WORDS_FILE = Path(__file__).parents[1] / "resources" / "imagenet_words.json"


@lru_cache(maxsize=1)
def imagenet_words() -> dict:
    """The shipped ImageNet word list: ``classes`` (id, name, word, kind) in index order and ``similar``."""
    return json.loads(IMAGENET_WORDS_FILE.read_text())


@dataclass(frozen=True)
class RecognisedObject:
    word: str
    probability: float
    kind: str
    # How probable the ImageNet layer finds the thing (its words summed): a second opinion on a concept probe's.
    imagenet_probability: float = 0.0

    def as_dict(self) -> dict:
        return {"word": self.word, "probability": round(self.probability, 3), "kind": self.kind}


@dataclass(frozen=True)
class Recognition:
    """What the recogniser finds in a batch of photos, computed once and read by every rule of guidance."""

    words: np.ndarray  # (photos, words): each ImageNet word's probability
    concepts: np.ndarray  # (photos, concepts): each concept probe's probability
    novelty: np.ndarray | None = None  # (photos,): how unlike the training photos (.novelty), where an index is


class ObjectRecogniser:
    """Photo features -> word probabilities (ImageNet classes summed per word) and concept probabilities."""

    def __init__(self, classifier_kernel: np.ndarray, classifier_bias: np.ndarray,
                 concept_kernel: np.ndarray, concept_bias: np.ndarray, concepts: list[str]):
        classes = imagenet_words()["classes"]
        if classifier_kernel.shape[1] != len(classes):
            raise CaptionerError(f"the classifier has {classifier_kernel.shape[1]} classes, not {len(classes)}")
        self.classifier_kernel = classifier_kernel.astype(np.float32)
        self.classifier_bias = classifier_bias.astype(np.float32)
        if concept_kernel.shape != (classifier_kernel.shape[0], len(concepts)) or "person" not in concepts:
            raise CaptionerError(f"the concept probes have shape {concept_kernel.shape} for {len(concepts)} concepts")
        self.concept_kernel = concept_kernel.astype(np.float32)
        self.concept_bias = concept_bias.astype(np.float32)
        self.concepts = list(concepts)
        self.words = sorted({c["word"] for c in classes})
        index = {word: i for i, word in enumerate(self.words)}
        # (classes, words) 0/1: class probabilities @ it = word probabilities
        self.word_of_class = np.zeros((len(classes), len(self.words)), np.float32)
        self.word_of_class[np.arange(len(classes)), [index[c["word"]] for c in classes]] = 1.0
        kinds = {c["word"]: c["kind"] for c in classes}
        self.kinds = [kinds[word] for word in self.words]

    @classmethod
    def from_file(cls, path: str | Path) -> "ObjectRecogniser":
        try:
            with np.load(path) as arrays:
                return cls(arrays["classifier_kernel"], arrays["classifier_bias"], arrays["concept_kernel"],
                           arrays["concept_bias"], [str(c) for c in arrays["concepts"]])
        except (OSError, KeyError, ValueError) as error:
            raise CaptionerError(f"cannot read the object recogniser {path}: {error}") from None

    def save(self, path: str | Path) -> None:
        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as file:
                np.savez(file, classifier_kernel=self.classifier_kernel.astype(np.float16),
                         classifier_bias=self.classifier_bias, concept_kernel=self.concept_kernel,
                         concept_bias=self.concept_bias, concepts=np.array(self.concepts))

    def class_probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features.astype(np.float32) @ self.classifier_kernel + self.classifier_bias
        logits -= logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def word_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(photos, words): each word's probability, the sum of its classes'."""
        return self.class_probabilities(features) @ self.word_of_class

    def concept_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(photos, concepts): each probe's probability that the photo's captions would name its concept."""
        return sigmoid(features.astype(np.float32) @ self.concept_kernel + self.concept_bias)

    def recognise(self, features: np.ndarray) -> Recognition:
        return Recognition(self.word_probabilities(features), self.concept_probabilities(features))

    def top_words(self, features: np.ndarray, top: int = 5) -> list[list[RecognisedObject]]:
        """Each photo's ``top`` most probable words, most probable first."""
        probabilities = self.word_probabilities(features)
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
        return [[RecognisedObject(self.words[w], float(p[w]), self.kinds[w]) for w in row]
                for row, p in zip(best, probabilities)]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), without overflow warnings: what a logistic probe gives."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0,
                 iterations: int = 12) -> tuple[np.ndarray, float]:
    """Logistic regression P(label | features) by Newton's method, with an L2 penalty on the weights.

    Deterministic (no random start, no mini-batches); on 6,000 photos the steps are below 1e-8 or the
    probabilities settled within a dozen iterations.
    """
    x = np.concatenate([features.astype(np.float64), np.ones((len(features), 1))], axis=1)
    y = labels.astype(np.float64)
    weights = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = sigmoid(x @ weights)
        gradient = x.T @ (p - y) + penalty * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights[:-1].astype(np.float32), float(weights[-1])


# The probes' L2 penalty. For the person probe on dev, at the threshold that keeps 97% of the photos every
# reference of which names a person, 6.5% of the photos none of whose references does were above it with 1.0,
# 3.7% with 10 and 4.6% with 100.
PROBE_L2 = 10.0


def fit_concept_probes(features: np.ndarray, named: list[set[str]], concepts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One probe per concept: (features, concepts) kernel and bias, from which photos' captions name it."""
    fitted = [fit_logistic(features, np.array([concept in n for n in named]), l2=PROBE_L2) for concept in concepts]
    return np.stack([w for w, _ in fitted], axis=1), np.array([b for _, b in fitted], np.float32)


def imagenet_classifier(encoder_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's own 1000-class layer, (1280, 1000) kernel and bias, from its weights package."""
    from ..encoders import VARIANTS, load_state_dict, weights_path

    if encoder_name not in VARIANTS:
        raise CaptionerError(f"the {encoder_name} encoder has no ImageNet classifier to name objects with "
                             f"(EfficientNet-Lite has: {', '.join(VARIANTS)})")
    state = load_state_dict(weights_path(encoder_name))
    return state["_fc.weight"].T.astype(np.float32), state["_fc.bias"].astype(np.float32)

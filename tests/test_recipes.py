"""Recipes: the shipped one is what model/ was made with, and options change single fields of one."""

import dataclasses
import json

import pytest

from captioner import CaptionerError
from captioner.data import REPO_ROOT
from captioner.train.recipes import DEFAULT, RECIPES, SHIPPED, fields, get_recipe, override
from captioner.train.training import TrainConfig


def test_the_shipped_recipe_is_the_one_the_shipped_model_card_records():
    card = json.loads((REPO_ROOT / "model" / "model_card.json").read_text())
    training = card["training"]
    assert card["encoder"]["name"] == SHIPPED.encoder
    assert card["architecture"] == dataclasses.asdict(SHIPPED.model)
    assert tuple(member["seed"] for member in training["members"]) == SHIPPED.seeds
    schedule = dataclasses.asdict(SHIPPED.train)
    assert {k: training[k] for k in schedule if k in training} == {k: schedule[k] for k in schedule if k in training}
    assert len(set(schedule) & set(training)) >= 6  # epochs, batch, learning rate, both patiences, smoothing
    assert (card["decoding"]["beam"], card["decoding"]["length_penalty"]) == (SHIPPED.beam, SHIPPED.length_penalty)
    assert card["min_word_count"] == SHIPPED.min_count
    assert card["data"]["train_images"] == 6000 and SHIPPED.limit is None
    tuned = training["self_critical"]
    assert (tuned["max_epochs"], tuned["learning_rate"], tuned["mix"]) == (
        SHIPPED.self_critical_epochs, SHIPPED.self_critical_learning_rate, SHIPPED.self_critical_mix)
    assert len(tuned["members"]) == len(SHIPPED.seeds)


def test_the_default_recipe_is_the_dataclasses_defaults():
    assert DEFAULT.train == TrainConfig() and DEFAULT.seeds == (TrainConfig().seed,)


def test_an_override_changes_one_field_wherever_it_lives_and_none_leaves_it():
    changed = override(SHIPPED, epochs=2, units=64, seeds=[1, 2], encoder="thumbnail", limit=None)
    assert changed.train == dataclasses.replace(SHIPPED.train, epochs=2)
    assert changed.model == dataclasses.replace(SHIPPED.model, units=64)
    assert changed.seeds == (1, 2) and changed.encoder == "thumbnail" and changed.limit is None
    assert override(SHIPPED) == SHIPPED
    assert fields(changed)["epochs"] == 2 and fields(changed)["units"] == 64


def test_an_unknown_field_or_recipe_is_refused_by_name():
    with pytest.raises(CaptionerError, match="no field colour"):
        override(SHIPPED, colour="red")
    with pytest.raises(CaptionerError, match="unknown recipe 'best'.*shipped"):
        get_recipe("best")


def test_every_recipe_names_a_known_encoder_and_different_seeds():
    from captioner.encoders import ENCODERS

    for name, recipe in RECIPES.items():
        assert recipe.encoder in ENCODERS, name
        assert len(set(recipe.seeds)) == len(recipe.seeds) >= 1, name

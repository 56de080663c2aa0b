"""Recipes: everything that makes a trained model, in one place (nanoGPT's ``config/`` in code).

``SHIPPED`` is how ``model/`` was made; the notebook trains it, and ``python -m captioner train --recipe
shipped`` trains it from the command line. Command-line flags (and the notebook's ``NB_*`` variables, for
CI's short run) override single fields of a recipe with :func:`override`. ``DEFAULT`` is the dataclasses'
own defaults, which ``train`` uses without ``--recipe``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import CaptionerError
from .model import ModelConfig
from .training import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """A model's data, encoder, architecture, training schedule, ensemble and default search."""

    encoder: str = "thumbnail"  # captioner.encoders.ENCODERS
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seeds: tuple[int, ...] = (8,)  # one decoder per seed; several make an ensemble
    min_count: int = 5  # the vocabulary keeps words seen this often in the training captions
    limit: int | None = None  # the first N training photos (None: all 6,000)
    beam: int = 3  # the search recorded in the card as the model's default...
    length_penalty: float = 0.0  # ...ranking candidates by log-probability / length ** penalty
    distil: float | None = None  # the teachers' share of one student's targets (None: save the ensemble)
    student_epochs: int | None = None  # the student's epoch limit (None: the teachers')
    hold_out: tuple[str, ...] = ()  # concepts no training photo may name (the novel-object protocol)
    pseudo_captions: str | None = None  # a file of captions made for label-only train photos (PS-NOC)
    self_critical_epochs: int = 0  # then fine-tune each decoder on CIDEr-D for at most this many epochs (0: none)
    self_critical_learning_rate: float = 5e-5  # ... at this learning rate (captioner/train/self_critical.py)
    self_critical_mix: float = 1.0  # ... saving this share of the way from the cross-entropy weights to the tuned


DEFAULT = Recipe()

# The shipped model: three EfficientNet-Lite2 decoders trained with label smoothing and a halving learning
# rate, then each fine-tuned on CIDEr-D for at most 3 epochs (self-critical) and saved a quarter of the way from
# its cross-entropy weights to the fine-tuned ones (dev CIDEr 0.506 -> 0.526, distinct captions 80% -> 75%); beam 4
# with length penalty 0.85 is what the notebook chose on dev among SEARCHES (docs/experiments.md).
SHIPPED = Recipe(
    encoder="efficientnet_lite2",
    model=ModelConfig(embed_dim=256, units=256, dropout=0.5),
    train=TrainConfig(epochs=20, batch_size=64, learning_rate=1e-3, patience=3, lr_patience=1, label_smoothing=0.1),
    seeds=(8, 1, 2),
    beam=4,
    length_penalty=0.85,
    self_critical_epochs=3,
    self_critical_mix=0.25,
)

# The searches the notebook scores on dev before recording the best in the card. No beam of 5: serving's latency
# budget (guidance within +3 ms a photo) holds the default search to beam 4, and the self-critical decoders would
# otherwise choose beam 5 (dev CIDEr 0.532 against 0.525 at beam 4, penalty 0.85).
SEARCHES = [(3, 0.0), (4, 0.75), (4, 0.85)]

# The novel-object experiment (docs/guidance.md): one shipped member that never saw these six concepts, trained
# as it was before the self-critical stage (its figures are that decoder's).
HELD_OUT = dataclasses.replace(SHIPPED, seeds=(8,), hold_out=("bicycle", "boat", "motorcycle", "car", "ball", "table"),
                               self_critical_epochs=0)

# A smoke run in about a minute: 200 photos, five epochs, the weight-free encoder (make train-quick).
QUICK = dataclasses.replace(DEFAULT, limit=200, train=dataclasses.replace(DEFAULT.train, epochs=5))

# The same decoder trained again with the pseudo-captions the first made for the held-out photos from their
# labels (captioner/pseudo_captions.py: python -m captioner pseudo-captions --model runs/heldout --out FILE).
HELD_OUT_PSEUDO = dataclasses.replace(HELD_OUT, pseudo_captions="runs/heldout_pseudo_captions.txt")

RECIPES = {"default": DEFAULT, "shipped": SHIPPED, "held_out": HELD_OUT, "held_out_pseudo": HELD_OUT_PSEUDO,
           "quick": QUICK}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise CaptionerError(f"unknown recipe {name!r} (choose from: {', '.join(RECIPES)})") from None


def fields(recipe: Recipe) -> dict:
    """Every field a recipe sets, flat, the architecture's and the schedule's among them (the ``train`` options).

    A schedule's ``seed`` and ``teacher_weight`` are not fields of their own: ``seeds`` and ``distil`` set them.
    """
    top = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe) if f.name not in ("model", "train")}
    schedule = {k: v for k, v in dataclasses.asdict(recipe.train).items() if k not in ("seed", "teacher_weight")}
    return {**top, **dataclasses.asdict(recipe.model), **schedule}


def override(recipe: Recipe, **changes) -> Recipe:
    """The recipe with single fields changed, wherever they live: ``override(SHIPPED, epochs=2, units=64)``.

    A change of ``None`` leaves the field as it is (an option that was not given). Seeds and concepts become
    tuples, so recipes stay hashable and comparable.
    """
    changes = {name: value for name, value in changes.items() if value is not None}
    unknown = set(changes) - set(fields(recipe))
    if unknown:
        raise CaptionerError(f"a recipe has no field {', '.join(sorted(unknown))}")

    def changed(config):
        return dataclasses.replace(config, **{k: v for k, v in changes.items() if k in config.__dataclass_fields__})

    top = {k: v for k, v in changes.items() if k in Recipe.__dataclass_fields__}
    recipe = dataclasses.replace(recipe, model=changed(recipe.model), train=changed(recipe.train), **top)
    return dataclasses.replace(recipe, seeds=tuple(recipe.seeds), hold_out=tuple(recipe.hold_out))


def describe(recipe: Recipe) -> str:
    """One line for a log: what will be trained."""
    members = f"{len(recipe.seeds)} decoders (seeds {' '.join(map(str, recipe.seeds))})" if len(recipe.seeds) > 1 \
        else f"1 decoder (seed {recipe.seeds[0]})"
    student = f", distilled into one student (teacher weight {recipe.distil})" if recipe.distil else ""
    held = f", without {', '.join(recipe.hold_out)}" if recipe.hold_out else ""
    photos = f"the first {recipe.limit}" if recipe.limit else "all"
    return (f"{recipe.encoder}, {photos} training photos{held}, {members}{student}, up to {recipe.train.epochs} "
            f"epochs, {recipe.model.units} units; default search beam {recipe.beam}, length penalty "
            f"{recipe.length_penalty}")

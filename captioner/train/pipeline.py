"""The stages joined up: what the CLI and the notebook run, so neither holds logic of its own.

``train_captioner(recipe, out_dir)`` goes data -> text -> features -> model -> a model folder (with the ONNX
encoder the lean runtime serves), as a recipe of :mod:`.recipes` describes. ``Captioner``
(:mod:`captioner.serving`) then captions photos with the folder, without TensorFlow.

With several seeds it trains one decoder per seed on the same features and saves them as an ensemble:
their next-word probabilities are averaged at every step, which is worth more than any single change to
one decoder was on the dev split (docs/experiments.md). With a ``student`` setting, those decoders are
only teachers: one decoder of the same size learns their averaged distributions (distillation) and is
saved alone, for a third of the ensemble's decoding time. With ``self_critical``, the saved decoders are then
fine-tuned on CIDEr-D (:mod:`.self_critical`); ``self_critical_model`` does that to a model folder already trained.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import CaptionerError
from ..data import load_captions, split_images
from ..encoders import get_encoder_spec
from ..features import extract_features
from ..guidance.concepts import without_concepts
from ..guidance.pseudo_captions import read_pseudo_captions
from ..images import load_rgb
from ..io import atomic_path, write_atomically
from ..model_folder import LEGACY_ENCODER_FILES, OBJECTS_FILE, load_card, write_card
from ..text import Vocabulary, tokenize
from .distillation import TeacherTargets, student_config, teacher_targets
from .export import export_onnx_encoder
from .keras_encoders import build_encoder
from .model import CaptionModel, ModelConfig, build_model, save_model
from .recipes import Recipe
from .self_critical import SelfCriticalConfig, fine_tune_decoders
from .training import CaptionExamples, TrainConfig, caption_examples, model_card, train_model

FINISHED_WEIGHTS, FINISHED_HISTORY = "final.weights.h5", "history.json"  # a finished member, until saved


@dataclass
class TrainingRun:
    """Everything a training run produced, for the notebook to show."""

    model: CaptionModel
    histories: list[dict]  # one per saved decoder: the ensemble's members, or the student
    features: dict[str, np.ndarray] = field(repr=False)
    train_images: list[str] = field(repr=False)
    dev_images: list[str] = field(repr=False)


def train_captioner(recipe: Recipe, out_dir: str | Path, data_root: str | Path | None = None, *,
                    dev_limit: int | None = None, cache_dir: Path | None = None, verbose: int = 1) -> TrainingRun:
    """Train what ``recipe`` (:mod:`.recipes`) describes on the train split, stop on the dev split, save it to
    ``out_dir``: the one way in to training, from the CLI, the notebook and Python alike.

    ``recipe.seeds`` trains one decoder per seed and saves them as an ensemble; with ``recipe.distil``, they teach
    one decoder (the first seed's), which is saved instead. ``recipe.beam`` and ``recipe.length_penalty`` are
    recorded as the model's default search. ``recipe.hold_out`` names concepts
    (:data:`captioner.guidance.concepts.OBJECT_GROUPS`) the decoder must never see: every train and dev photo whose
    captions name one is left out (the novel-object protocol). ``recipe.pseudo_captions`` (a file of
    :mod:`captioner.guidance.pseudo_captions`) gives train photos captions of their own in place of their real ones:
    a held-out photo comes back with captions made for it from its labels (PS-NOC). ``recipe.self_critical_epochs``
    then fine-tunes each saved decoder on CIDEr-D, keeping its best dev epoch. ``dev_limit`` stops early on the
    first N dev photos only (default: a share of ``recipe.limit``).
    """
    encoder_name, limit, min_count, model_config = recipe.encoder, recipe.limit, recipe.min_count, recipe.model
    seeds, hold_out, pseudo_captions = list(recipe.seeds), recipe.hold_out, recipe.pseudo_captions
    train_config = dataclasses.replace(recipe.train, seed=seeds[0]) if seeds else recipe.train
    student = None if recipe.distil is None else student_config(train_config, recipe.distil, recipe.student_epochs)
    decoding = {"beam": recipe.beam, "length_penalty": recipe.length_penalty}
    self_critical = SelfCriticalConfig(recipe.self_critical_epochs, recipe.self_critical_learning_rate,
                                       mix=recipe.self_critical_mix)
    if not seeds or len(set(seeds)) != len(seeds):
        raise CaptionerError(f"an ensemble needs one or more different seeds, got {seeds}")
    if student is not None and not 0 < student.teacher_weight <= 1:
        raise CaptionerError(f"a student's teacher weight must be in (0, 1], got {student.teacher_weight}")
    spec = get_encoder_spec(encoder_name)
    data = load_captions(data_root)
    train_split = split_images(data, "train", limit)
    train_images = without_concepts(train_split, data.captions, hold_out)
    dev_images = without_concepts(split_images(data, "dev", dev_limit if dev_limit is not None else _dev_share(limit)),
                                  data.captions, hold_out)
    captions = data.captions
    if pseudo_captions is not None:
        made = read_pseudo_captions(pseudo_captions)
        outside = sorted(set(made) - set(train_split))
        if outside:
            raise CaptionerError(f"{pseudo_captions}: {len(outside)} photo(s) are not training photos, e.g. {outside[0]}")
        captions = {**captions, **made}
        kept = set(train_images)
        train_images += [n for n in made if n not in kept]
    tokenized = tokenize(captions)
    vocab = Vocabulary.build((c for name in train_images for c in tokenized[name]), min_count=min_count)
    if verbose:
        print(f"vocabulary: {len(vocab)} words seen {min_count}+ times; longest caption {vocab.max_length} tokens")

    encoder = build_encoder(encoder_name)
    features = extract_features(
        encoder, {n: data.image_path(n) for n in train_images + dev_images}, cache_dir, progress=bool(verbose)
    )
    train = caption_examples(train_images, features, tokenized, vocab)
    dev = caption_examples(dev_images, features, tokenized, vocab)

    out_dir = Path(out_dir)
    networks, histories, seconds = [], [], []
    for member, seed in enumerate(seeds):
        if verbose and len(seeds) > 1:
            print(f"member {member + 1} of {len(seeds)}, seed {seed}")
        network, history, took = train_member(
            build_model(len(vocab), spec.feature_size, model_config, seed=seed), train, dev,
            dataclasses.replace(train_config, seed=seed), out_dir / "checkpoints" / f"member_{member + 1}", verbose,
        )
        networks.append(network)
        histories.append(history)
        seconds.append(took)
    teachers = None
    if student is not None:
        teachers = {"seeds": seeds, "histories": histories, "seconds": seconds, "config": train_config}
        network, history, took = distil(networks, train, dev, len(vocab), spec.feature_size, model_config, student,
                                        out_dir / "checkpoints" / f"student_of_{'_'.join(map(str, seeds))}", verbose)
        networks, histories, seconds, seeds = [network], [history], [took], [student.seed]
    tuned = None
    if self_critical is not None and self_critical.epochs > 0:
        tuned = fine_tune_decoders(networks, vocab, _photos(train_images, features, tokenized),
                                   _photos(dev_images, features, tokenized), self_critical, verbose)
    card = model_card(
        encoder=spec.card(),
        vocab=vocab,
        model_config=model_config,
        train_config=student if student is not None else train_config,
        data={
            "root": data.root.name,
            "train_images": len(train_images),
            "train_captions": len(train.token_ids),
            "dev_images": len(dev_images),
            **({"held_out_concepts": sorted(hold_out)} if hold_out else {}),
            **({"pseudo_captions": {"file": Path(pseudo_captions).name, "photos": len(made),
                                    "captions": sum(map(len, made.values()))}} if pseudo_captions is not None else {}),
        },
        histories=histories,
        seeds=seeds,
        training_seconds=seconds,
        teachers=teachers,
        decoding=decoding,
    )
    if tuned is not None:
        card["training"]["self_critical"] = tuned
    save_model(networks, vocab, card, out_dir)
    for legacy in LEGACY_ENCODER_FILES:
        # Older folders carried a Keras copy of the encoder; it is rebuilt from its weights package now.
        (out_dir / legacy).unlink(missing_ok=True)
    sample = [data.image_path(n) for n in dev_images[:4]]
    export_onnx_encoder(encoder, out_dir, np.stack([load_rgb(p, (spec.input_size,) * 2) for p in sample]))
    card = write_card(out_dir, card)  # again, now that the encoder file is there too
    _remove_checkpoints(out_dir / "checkpoints")
    return TrainingRun(CaptionModel(networks, vocab, card), histories, features, train_images, dev_images)


def self_critical_model(model_dir: str | Path, out_dir: str | Path, data_root: str | Path | None,
                        config: SelfCriticalConfig, cache_dir: Path | None = None, verbose: int = 1) -> CaptionModel:
    """Fine-tune a trained model folder's decoders on CIDEr-D (:mod:`.self_critical`) into a new folder.

    The new folder has the same encoder and vocabulary; it has no guidance until ``guide`` fits it (the old one was
    chosen for other decoders), and none of the old model's figures.
    """
    from .model import load_model

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if out_dir.resolve() == model_dir.resolve():
        raise CaptionerError(f"--out must be a new folder, not the model being fine-tuned ({model_dir})")
    model = load_model(model_dir)
    if model.card.get("data", {}).get("pseudo_captions"):
        raise CaptionerError(f"{model_dir} was trained on pseudo-captions; fine-tune it in its recipe "
                             "(train --self-critical-epochs N) instead")
    data = load_captions(data_root)
    hold_out = model.card.get("data", {}).get("held_out_concepts", [])
    train_images = without_concepts(split_images(data, "train"), data.captions, hold_out)
    dev_images = without_concepts(split_images(data, "dev"), data.captions, hold_out)
    features = extract_features(build_encoder(model.encoder_name), {n: data.image_path(n) for n in train_images +
                                                                     dev_images}, cache_dir, progress=bool(verbose))
    tokenized = tokenize(data.captions)
    train_images, dev_images = [n for n in train_images if n in features], [n for n in dev_images if n in features]
    tuned = fine_tune_decoders(model.networks, model.vocab, _photos(train_images, features, tokenized),
                               _photos(dev_images, features, tokenized), config, verbose)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (model.card.get("checksums") or {}):
        if name != OBJECTS_FILE:  # the recogniser's thresholds were chosen for the old decoders: guide again
            shutil.copy2(model_dir / name, out_dir / name)
    card = {k: v for k, v in model.card.items() if k not in ("guidance", "objects", "metrics", "checksums")}
    card["training"] = {**card["training"], "self_critical": tuned}
    save_model(model.networks, model.vocab, card, out_dir)
    return CaptionModel(model.networks, model.vocab, load_card(out_dir))


def distil(teachers: Sequence, train: CaptionExamples, dev: CaptionExamples, vocab_size: int, feature_size: int,
           model_config: ModelConfig, config: TrainConfig, checkpoint_dir: Path,
           verbose: int) -> tuple[object, dict, float]:
    """Train one decoder on the teachers' averaged next-word distributions mixed with the captions' words.

    The seconds returned include computing the teachers' targets (about 80 s for Flickr8k).
    """
    if verbose:
        print(f"student of {len(teachers)} teacher(s), teacher weight {config.teacher_weight}")
    network = build_model(vocab_size, feature_size, model_config, seed=config.seed)
    return train_member(network, train, dev, config, checkpoint_dir, verbose,
                        targets=lambda: (teacher_targets(teachers, train), teacher_targets(teachers, dev)))


def train_member(network, train: CaptionExamples, dev: CaptionExamples, config: TrainConfig,
                 checkpoint_dir: Path, verbose: int,
                 targets: Callable[[], tuple[TeacherTargets, TeacherTargets]] | None = None,
                 ) -> tuple[object, dict, float]:
    """Train one decoder, or take it from ``checkpoint_dir`` if an interrupted run already finished it.

    A finished member's weights and history are kept there until the whole model is saved, so a run
    killed while training the third member of an ensemble does not train the first two again. A
    student's ``targets`` (train and dev, from its teachers) are computed only when it must be trained,
    and the seconds returned (and recorded) include theirs.
    """
    finished = _finished_member(network, checkpoint_dir, config)
    if finished is not None:
        return network, *finished
    started = time.perf_counter()
    teachers = targets() if targets is not None else None
    history = train_model(network, train, dev, config, checkpoint_dir=checkpoint_dir, verbose=verbose, teachers=teachers)
    took = time.perf_counter() - started
    with atomic_path(checkpoint_dir / FINISHED_WEIGHTS) as temporary:
        network.save_weights(str(temporary))
    history = {k: [float(x) for x in v] if isinstance(v, list) else v for k, v in history.items()}
    record = {"settings": dataclasses.asdict(config), "history": history, "seconds": took}
    write_atomically(checkpoint_dir / FINISHED_HISTORY, json.dumps(record).encode())
    return network, history, took


def _finished_member(network, checkpoint_dir: Path, config: TrainConfig) -> tuple[dict, float] | None:
    """Load what an earlier run finished with the same settings into ``network``: (history, seconds), or None.

    A member finished with other settings (seed, epochs, ...) is not this one; its folder is cleared.
    """
    weights, history = checkpoint_dir / FINISHED_WEIGHTS, checkpoint_dir / FINISHED_HISTORY
    if not (weights.is_file() and history.is_file()):
        return None
    saved = json.loads(history.read_text())
    try:
        if saved["settings"] == dataclasses.asdict(config):
            network.load_weights(weights)
            return saved["history"], saved["seconds"]
    except (KeyError, ValueError):  # an older record, or weights of another shape
        pass
    shutil.rmtree(checkpoint_dir)
    return None


def _photos(names: list[str], features: dict[str, np.ndarray], tokenized: dict[str, list]) -> tuple[np.ndarray, list]:
    """(features, tokenized references) of these photos, in their order: what self-critical training reads."""
    return np.stack([features[n] for n in names]), [tokenized[n] for n in names]


def _dev_share(limit: int | None) -> int | None:
    """With a training subset, a dev subset a quarter its size (at least 10 images) keeps runs quick."""
    return None if limit is None else max(10, limit // 4)


def _remove_checkpoints(folder: Path) -> None:
    """The finished model is saved; the resume state of the run is no longer needed."""
    shutil.rmtree(folder, ignore_errors=True)

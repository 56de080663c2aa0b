"""Training one decoder: captions as examples, a tf.data pipeline, early stopping, and the card it writes.

Teacher forcing: the LSTM returns its output at every position, so one pass over a caption trains all of
its prefixes at once (27.8x faster per epoch than one sample per word, ``benchmarks/bench_training.py``).
Captions are batched with others of similar length; early stopping restores the best dev epoch; an
interrupted run resumes from its last finished epoch. :mod:`captioner.train.pipeline` trains every member of
an ensemble with this; :mod:`captioner.train.distillation` supplies a student's soft targets.
"""

from __future__ import annotations

import datetime
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import CaptionerError, __version__
from ..model_folder import ARCHITECTURE_FILE, VOCAB_FILE, decoding_defaults, member_weights_file
from ..text import PAD_ID, Vocabulary
from .distillation import TeacherTargets, dense_targets
from .model import ModelConfig


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3  # epochs without a better dev loss before stopping
    lr_patience: int = 0  # halve the learning rate after this many epochs without improvement (0: never)
    label_smoothing: float = 0.0
    teacher_weight: float = 0.0  # distillation: share of the target that is the teachers' distribution
    seed: int = 8


@dataclass
class CaptionExamples:
    """Every caption of a set of images as token ids, with the row of its image's features."""

    features: np.ndarray  # (images, feature_size)
    image_rows: np.ndarray  # (captions,) row in ``features`` for each caption
    token_ids: list[list[int]]  # <start> ... <end>, one list per caption


def caption_examples(
    names: Sequence[str],
    features: Mapping[str, np.ndarray],
    tokenized: Mapping[str, list[list[str]]],
    vocab: Vocabulary,
) -> CaptionExamples:
    """Pair each caption of each image that has features with that image's row."""
    names = [n for n in names if n in features]
    if not names:
        raise CaptionerError("no images with both features and captions to train on")
    rows, ids = [], []
    for row, name in enumerate(names):
        for caption in tokenized[name]:
            rows.append(row)
            ids.append(vocab.encode(caption)[: vocab.max_length])
    return CaptionExamples(np.stack([features[n] for n in names]), np.array(rows), ids)


def make_dataset(examples: CaptionExamples, batch_size: int, shuffle: bool, seed: int = 0, one_hot: int = 0,
                 teachers: TeacherTargets | None = None, teacher_weight: float = 0.0):
    """A ``tf.data`` pipeline of ``((image features, input ids), target ids, weights)``.

    Input ids are ``<start> w1 .. wn``, targets ``w1 .. wn <end>`` (one-hot over ``one_hot`` words if
    given, for label smoothing); padding has weight 0. With ``teachers``, each target is a mix:
    ``teacher_weight`` of the teachers' distribution, the rest the caption's own word. Captions are batched
    with others of similar length, so little time goes on padding.
    """
    import tensorflow as tf

    lengths = np.array([len(ids) for ids in examples.token_ids], dtype=np.int32)
    padded = np.full((len(lengths), lengths.max()), PAD_ID, dtype=np.int32)
    for i, ids in enumerate(examples.token_ids):
        padded[i, : len(ids)] = ids
    rows = examples.image_rows.astype(np.int32)
    if teachers is None:  # empty stand-ins keep one pipeline for both cases
        teachers = TeacherTargets(np.zeros((len(lengths), 0, 0), np.int32), np.zeros((len(lengths), 0, 0), np.float32))
    data = tf.data.Dataset.from_tensor_slices((rows, padded, lengths, teachers.words, teachers.probabilities))
    if shuffle:
        data = data.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    data = data.map(lambda row, ids, length, words, probabilities:
                    (row, ids[:length], words[:length - 1], probabilities[:length - 1]))
    boundaries = [b for b in (10, 12, 14, 16, 18, 21, 25) if b < lengths.max()]
    # Known length, so that Keras shows a real progress bar and no "ran out of data" warning.
    bucket_sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
    batches = int(sum(-(-n // batch_size) for n in bucket_sizes))
    data = data.bucket_by_sequence_length(
        element_length_func=lambda row, ids, words, probabilities: tf.shape(ids)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=([], [None], [None, None], [None, None]),
        padding_values=(0, PAD_ID, 0, 0.0),
    )
    table = tf.constant(examples.features, dtype=tf.float32)

    def to_inputs(rows, ids, words, probabilities):
        targets = ids[:, 1:]
        weights = tf.cast(targets != PAD_ID, tf.float32)
        if one_hot:
            targets = tf.one_hot(targets, one_hot)
        if teacher_weight:
            targets = (1 - teacher_weight) * targets + teacher_weight * dense_targets(words, probabilities, one_hot)
        return (tf.gather(table, rows), ids[:, :-1]), targets, weights

    data = data.apply(tf.data.experimental.assert_cardinality(batches))
    return data.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train_model(
    model,
    train: CaptionExamples,
    dev: CaptionExamples,
    config: TrainConfig = TrainConfig(),
    checkpoint_dir: Path | None = None,
    verbose: int = 1,
    teachers: tuple[TeacherTargets, TeacherTargets] | None = None,
):
    """Fit with early stopping on dev loss; the returned model holds the best epoch's weights.

    With ``checkpoint_dir``, the best weights are also kept there and an interrupted run resumes from
    its last finished epoch (``BackupAndRestore``). With ``teachers`` (train and dev targets from
    :func:`teacher_targets`) and ``config.teacher_weight``, the model learns the teachers' distributions.
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    distil = teachers is not None and config.teacher_weight > 0
    # Keras's sparse cross-entropy has no label smoothing or soft targets: such runs train on dense targets.
    vocab_size = model.output_shape[-1] if config.label_smoothing or distil else 0
    train_teachers, dev_teachers = teachers if distil else (None, None)
    teacher_weight = config.teacher_weight if distil else 0.0
    if vocab_size:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        metric = "categorical_accuracy"
    else:
        loss, metric = "sparse_categorical_crossentropy", "sparse_categorical_accuracy"
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss, weighted_metrics=[metric])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
    ]
    if config.lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                           patience=config.lr_patience, verbose=verbose))
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(checkpoint_dir / "best.weights.h5"), monitor="val_loss", save_best_only=True,
                save_weights_only=True,
            ),
            keras.callbacks.BackupAndRestore(str(checkpoint_dir / "backup")),
        ]
    resumed_after = finished_epochs(checkpoint_dir / "backup") if checkpoint_dir is not None else 0
    history = model.fit(
        make_dataset(train, config.batch_size, shuffle=True, seed=config.seed, one_hot=vocab_size,
                     teachers=train_teachers, teacher_weight=teacher_weight),
        validation_data=make_dataset(dev, config.batch_size, shuffle=False, one_hot=vocab_size,
                                     teachers=dev_teachers, teacher_weight=teacher_weight),
        epochs=config.epochs,
        shuffle=False,  # the dataset shuffles itself, with the run's seed
        callbacks=callbacks,
        verbose=verbose,
    )
    # A resumed run's history holds only its own epochs; the card counts the earlier ones too.
    return {**history.history, "resumed_after_epoch": resumed_after}


def finished_epochs(backup_dir: Path) -> int:
    """How many epochs an interrupted run finished, from the metadata BackupAndRestore keeps (0: a fresh run)."""
    try:
        return int(json.loads((backup_dir / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0




# --- the card -------------------------------------------------------------------------------------


def model_card(
    *,
    encoder: dict,
    vocab: Vocabulary,
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: dict,
    histories: Sequence[dict],
    seeds: Sequence[int],
    training_seconds: Sequence[float],
    teachers: dict | None = None,
    decoding: dict | None = None,
) -> dict:
    """What a reader (and the app) needs to know about a trained model: one entry per ensemble member.

    A distilled model's card also lists its teachers (``teachers``: their ``seeds``, ``histories`` and
    ``seconds``, as for members, and the ``config`` they were trained with; their weights are not kept),
    and its training time includes theirs.
    """
    def runs(seeds, histories, seconds, weights=()) -> list[dict]:
        """One entry per trained decoder; ``weights`` names the files of those that are kept."""
        return [{"seed": seed, **({"weights": weights[i]} if weights else {}), **training_summary(history),
                 "seconds": round(took, 1)} for i, (seed, history, took) in enumerate(zip(seeds, histories, seconds))]

    def settings(config: TrainConfig) -> dict:
        return {k: v for k, v in asdict(config).items() if k != "seed"}  # seeds are per decoder

    members = runs(seeds, histories, training_seconds, [member_weights_file(i) for i in range(len(seeds))])
    seconds = sum(training_seconds) + (sum(teachers["seconds"]) if teachers else 0)
    training = {**settings(train_config), "seconds": round(seconds, 1), "members": members}
    name = "merge captioner" if len(members) == 1 else f"ensemble of {len(members)} merge captioners"
    if teachers:
        training["teacher_settings"] = settings(teachers["config"])
        training["teachers"] = runs(teachers["seeds"], teachers["histories"], teachers["seconds"])
        name = f"merge captioner distilled from {len(training['teachers'])}"
    return {
        "name": name,
        "encoder": encoder,
        "vocab_size": len(vocab),
        "max_length": vocab.max_length,
        "min_word_count": vocab.min_count,
        "architecture": asdict(model_config),
        "training": training,
        "decoding": decoding_defaults(decoding),
        "data": data,
        "metrics": {},
        "versions": library_versions(),
        "date": datetime.date.today().isoformat(),
        "files": {
            "architecture": ARCHITECTURE_FILE,
            "weights": [m["weights"] for m in members],
            "vocabulary": VOCAB_FILE,
        },
    }


def training_summary(history: dict) -> dict:
    """Epochs, best epoch and losses of one member's run; a resumed run counts the epochs before it."""
    dev_loss = history.get("val_loss", [])
    resumed_after = int(history.get("resumed_after_epoch", 0))
    return {
        "epochs_run": resumed_after + len(history.get("loss", [])),
        "resumed_after_epoch": resumed_after,  # losses below are from that epoch on
        "best_epoch": resumed_after + int(np.argmin(dev_loss)) + 1 if dev_loss else None,
        "best_dev_loss": float(min(dev_loss)) if dev_loss else None,
        "train_loss": [round(float(v), 4) for v in history.get("loss", [])],
        "dev_loss": [round(float(v), 4) for v in dev_loss],
    }


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {
        "captioner": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
    }


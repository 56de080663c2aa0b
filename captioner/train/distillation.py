"""Distillation: the teachers' averaged next-word distributions, as a student's soft targets.

An ensemble's decoders (the teachers) are run over every prefix of every training caption; a single
student decoder then learns targets that mix their distribution with the caption's own word
(:func:`captioner.train.training.make_dataset`). It decodes in a third of the ensemble's time
(docs/experiments.md). TensorFlow is imported only where the targets become tensors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from .training import CaptionExamples, TrainConfig


@dataclass
class TeacherTargets:
    """The teachers' most likely next words at every position of every caption (distillation targets).

    Only the top ``k`` words are kept, renormalised: the whole distribution for 30,000 captions would take
    gigabytes, and the top 16 of a trained captioner hold nearly all of its probability.
    """

    words: np.ndarray  # (captions, positions, k) word ids
    probabilities: np.ndarray  # (captions, positions, k), each row summing to 1


def teacher_targets(networks: Sequence, examples: CaptionExamples, top_k: int = 16,
                    batch_size: int = 256) -> TeacherTargets:
    """Average the teachers' next-word probabilities over every prefix of every caption; keep the top ``k``.

    Captions are run longest-first in batches of one length, so no prefix is padded.
    """
    top_k = min(top_k, networks[0].output_shape[-1])  # a vocabulary may have fewer words
    lengths = np.array([len(ids) - 1 for ids in examples.token_ids])  # positions: <start> w1 .. wn
    positions = int(lengths.max())
    words = np.zeros((len(lengths), positions, top_k), np.int32)
    probabilities = np.zeros((len(lengths), positions, top_k), np.float32)
    order = np.argsort(-lengths, kind="stable")
    for length in np.unique(lengths):
        same = order[lengths[order] == length]
        for start in range(0, len(same), batch_size):
            batch = same[start:start + batch_size]
            prefixes = np.array([examples.token_ids[i][:-1] for i in batch], np.int32)
            image_features = examples.features[examples.image_rows[batch]]
            mean = sum(np.asarray(network((image_features, prefixes), training=False)) for network in networks)
            mean = mean / len(networks)
            top = np.argpartition(-mean, top_k - 1, axis=-1)[..., :top_k]
            top_probabilities = np.take_along_axis(mean, top, axis=-1)
            words[batch, :length] = top
            probabilities[batch, :length] = top_probabilities / top_probabilities.sum(-1, keepdims=True)
    return TeacherTargets(words, probabilities)


def dense_targets(words, probabilities, vocab_size: int):
    """(batch, positions, k) word ids and their probabilities -> (batch, positions, vocab_size)."""
    import tensorflow as tf

    shape = tf.shape(words)
    batch, position, _ = tf.meshgrid(tf.range(shape[0]), tf.range(shape[1]), tf.range(shape[2]), indexing="ij")
    indices = tf.stack([batch, position, words], axis=-1)
    return tf.scatter_nd(indices, probabilities, [shape[0], shape[1], vocab_size])


def student_config(train_config: TrainConfig, teacher_weight: float, epochs: int | None = None) -> TrainConfig:
    """The teachers' recipe for a student that learns ``teacher_weight`` of its target from them.

    No label smoothing: the teachers' distributions already spread the target over likely words.
    """
    return dataclasses.replace(train_config, teacher_weight=teacher_weight, label_smoothing=0.0,
                               epochs=epochs or train_config.epochs)

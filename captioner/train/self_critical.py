"""Self-critical sequence training: fine-tune trained decoders on CIDEr-D, the score their captions are judged by.

Cross-entropy training teaches the next word of a reference; captions are then judged as whole sentences
(CIDEr). Self-critical training (Rennie et al., CVPR 2017) optimises that judgement directly with REINFORCE:
for every photo, sample a few captions from the decoder, score each against the photo's references with
CIDEr-D, and raise the log-probability of those that score above the mean of the photo's other samples (the
baseline of Luo 2020), lower the rest. Sampling runs in NumPy with the current weights
(:mod:`captioner.decode`), the gradient in Keras through the same teacher-forced network training used.

Each decoder of an ensemble is fine-tuned on its own and keeps its best dev epoch (CIDEr-D of its beam-3
captions), its cross-entropy weights included as epoch 0. On the shipped ensemble, 5e-5 for at most three
epochs raised dev CIDEr from 0.506 to 0.527, but the captions got shorter and more alike (60% distinct, from
80%); saving a quarter of the way from the cross-entropy weights to the fine-tuned ones (``mix``) keeps most of
the gain (0.526) and more of the variety (75%) (docs/experiments.md).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..decode import BANNED_IDS, NumpyMergeDecoder, beam_search
from ..text import END_ID, PAD_ID, START_ID, Vocabulary


@dataclass(frozen=True)
class SelfCriticalConfig:
    epochs: int = 3  # at most; each decoder keeps its best dev epoch (0: the weights it started with)
    learning_rate: float = 5e-5  # 1e-4 collapsed toward a few safe captions in 3 epochs; 2e-5 gained little
    images_per_batch: int = 50
    samples_per_image: int = 5
    seed: int = 0  # the sampling of decoder i draws from seed + i
    # The fine-tuned weights' share of those saved, the rest being the weights fine-tuning started from (WiSE-FT,
    # Wortsman et al., CVPR 2022). The shipped recipe keeps a quarter (recipes.SHIPPED says why).
    mix: float = 1.0


# --- the reward: CIDEr-D ---------------------------------------------------------------------------------


def ngrams(tokens: Sequence[str], n_max: int = 4) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


class CiderD:
    """CIDEr-D as the coco-caption toolkit computes it (n = 1..4, tf-idf, clipped counts, a Gaussian length
    penalty with sigma 6, x10), with document frequencies from a fixed reference corpus (the training split),
    so that a caption's score does not depend on the batch it is in."""

    def __init__(self, references: Sequence[Sequence[Sequence[str]]], sigma: float = 6.0):
        self.sigma = sigma
        self.document_frequency: Counter = Counter()
        for refs in references:
            self.document_frequency.update({gram for ref in refs for gram in ngrams(ref)})
        self.log_documents = math.log(float(len(references)))
        self._reference_vectors: dict[tuple, tuple] = {}  # references recur every epoch: vectorise once

    def _vector(self, counts: Counter) -> tuple[list[dict], list[float]]:
        vectors, norms = [{} for _ in range(4)], [0.0] * 4
        for gram, count in counts.items():
            n = len(gram) - 1
            weight = count * (self.log_documents - math.log(max(1.0, self.document_frequency[gram])))
            vectors[n][gram] = weight
            norms[n] += weight * weight
        return vectors, [math.sqrt(v) for v in norms]

    def score(self, candidate: Sequence[str], references: Sequence[Sequence[str]]) -> float:
        vec, norm = self._vector(ngrams(candidate))
        total = np.zeros(4)
        for ref in references:
            key = tuple(ref)
            if key not in self._reference_vectors:
                self._reference_vectors[key] = self._vector(ngrams(ref))
            ref_vec, ref_norm = self._reference_vectors[key]
            delta = float(len(candidate) - len(ref))
            for n in range(4):
                dot = sum(min(weight, ref_vec[n][gram]) * ref_vec[n][gram]
                          for gram, weight in vec[n].items() if gram in ref_vec[n])
                if norm[n] and ref_norm[n]:
                    total[n] += dot / (norm[n] * ref_norm[n]) * math.exp(-(delta ** 2) / (2 * self.sigma ** 2))
        return float(total.mean() / len(references) * 10.0)


# --- sampling ----------------------------------------------------------------------------------------------


def decoder_from_keras(network) -> NumpyMergeDecoder:
    """The NumPy decoder over a Keras network's current weights (no file in between)."""
    weights = {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in network.layers
               if layer.get_weights()}
    return NumpyMergeDecoder([weights])


def sample_captions(decoder: NumpyMergeDecoder, features: np.ndarray, max_length: int,
                    rng: np.random.Generator) -> np.ndarray:
    """One caption per row of ``features``, each word drawn from the model's distribution.

    Returns token ids ``(rows, max_length - 1)``: the words and ``<end>``, then padding.
    """
    state = decoder.start(features)
    words = np.full(len(features), START_ID)
    out = np.full((len(features), max_length - 1), PAD_ID)
    done = np.zeros(len(features), dtype=bool)
    for step in range(max_length - 1):
        log_probs, state = decoder.step(state, words)
        log_probs[:, list(BANNED_IDS)] = -np.inf
        if step == 0:
            log_probs[:, END_ID] = -np.inf  # at least one word, as beam search does
        probs = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
        cumulative = np.cumsum(probs, axis=1)
        draws = rng.random(len(features))[:, None] * cumulative[:, -1:]
        words = np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)
        words[done] = PAD_ID
        out[:, step] = words
        done |= words == END_ID
        if done.all():
            break
    return out


def teacher_forced(sampled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) for the network from sampled captions: ``<start>`` and each word before the last."""
    length = int((sampled != PAD_ID).sum(axis=1).max())
    targets = sampled[:, :length]
    inputs = np.concatenate([np.full((len(sampled), 1), START_ID), targets[:, :-1]], axis=1)
    return np.where(inputs == END_ID, PAD_ID, inputs), targets


def caption_log_probabilities(network, features: np.ndarray, sampled: np.ndarray) -> np.ndarray:
    """log P(caption | photo) of each sampled caption (its words and ``<end>``), by the network as it is."""
    inputs, targets = teacher_forced(sampled)
    probs = np.asarray(network([features.astype(np.float32), inputs.astype(np.int32)], training=False))
    picked = np.take_along_axis(probs, targets[:, :, None], axis=2)[:, :, 0]
    return np.where(targets != PAD_ID, np.log(picked + 1e-9), 0.0).sum(axis=1)


class PolicyGradient:
    """One REINFORCE step at a time on a network: ``step(features, sampled, advantage)``."""

    def __init__(self, network, learning_rate: float):
        import keras
        import tensorflow as tf

        self.network, self.optimizer = network, keras.optimizers.Adam(learning_rate)

        @tf.function(reduce_retracing=True)
        def train_step(image, inputs, targets, advantage):
            with tf.GradientTape() as tape:
                probs = network([image, inputs], training=False)  # as sampled: no dropout
                picked = tf.gather(probs, targets, batch_dims=2)
                mask = tf.cast(targets != PAD_ID, tf.float32)
                log_prob = tf.reduce_sum(tf.math.log(picked + 1e-9) * mask, axis=1)
                loss = -tf.reduce_mean(advantage * log_prob)
            gradients = tape.gradient(loss, network.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, network.trainable_variables))
            return loss

        self._train_step = train_step

    def step(self, features: np.ndarray, sampled: np.ndarray, advantage: np.ndarray) -> None:
        inputs, targets = teacher_forced(sampled)
        self._train_step(features.astype(np.float32), inputs.astype(np.int32), targets.astype(np.int32),
                         advantage.astype(np.float32))


# --- fine-tuning -------------------------------------------------------------------------------------------


def fine_tune(network, features: np.ndarray, references: list[list[list[str]]], vocab: Vocabulary,
              config: SelfCriticalConfig, scorer: CiderD, seed: int,
              on_epoch: Callable[[int], dict] | None = None, verbose: int = 1) -> list[dict]:
    """Self-critical fine-tuning of ``network`` in place for ``config.epochs``; a log entry per epoch.

    ``features[i]`` and ``references[i]`` belong to the same training photo. ``on_epoch(epoch)`` is called after
    every epoch (to score the dev split) and what it returns joins that epoch's entry.
    """
    rng = np.random.default_rng(seed)
    policy = PolicyGradient(network, config.learning_rate)
    k, log = config.samples_per_image, []
    for epoch in range(1, config.epochs + 1):
        started, rewards = time.perf_counter(), []
        order = rng.permutation(len(features))
        for first in range(0, len(order), config.images_per_batch):
            batch = order[first:first + config.images_per_batch]
            image = np.repeat(features[batch], k, axis=0)
            sampled = sample_captions(decoder_from_keras(network), image, vocab.max_length, rng)
            reward = np.array([
                scorer.score(vocab.decode(row.tolist()), references[batch[i // k]]) for i, row in enumerate(sampled)
            ]).reshape(len(batch), k)
            # Each sample's baseline: the mean reward of the photo's other samples.
            advantage = (reward - (reward.sum(axis=1, keepdims=True) - reward) / (k - 1)).ravel()
            policy.step(image, sampled, advantage)
            rewards.append(reward.mean())
        entry = {"epoch": epoch, "mean_reward": round(float(np.mean(rewards)), 4),
                 "seconds": round(time.perf_counter() - started, 1)}
        entry.update(on_epoch(epoch) if on_epoch is not None else {})
        log.append(entry)
        if verbose:
            print(entry, flush=True)
    return log


def dev_cider(network, features: np.ndarray, references: list[list[list[str]]], vocab: Vocabulary,
              scorer: CiderD) -> dict:
    """CIDEr-D of the network's beam-3 captions on the dev photos, and the share of distinct captions."""
    best = beam_search(decoder_from_keras(network), features, vocab.max_length, 3)
    captions = [vocab.decode(candidates[0].ids) for candidates in best]
    cider = np.mean([scorer.score(c, refs) for c, refs in zip(captions, references)])
    return {"dev_cider_d": round(float(cider), 4),
            "dev_distinct": round(len({" ".join(c) for c in captions}) / len(captions), 3)}


def interpolate(start: list[np.ndarray], tuned: list[np.ndarray], mix: float) -> list[np.ndarray]:
    """Weights ``mix`` of the way from ``start`` to ``tuned`` (WiSE-FT); float32 stays float32."""
    return [(mix * b + (1 - mix) * a).astype(a.dtype) for a, b in zip(start, tuned)]


def fine_tune_decoders(networks: Sequence, vocab: Vocabulary, train: tuple[np.ndarray, list], dev: tuple[np.ndarray, list],
                       config: SelfCriticalConfig, verbose: int = 1) -> dict:
    """Fine-tune each decoder in place, keeping its best dev epoch and then ``config.mix`` of the way from its
    starting weights to those; what the model card records.

    ``train`` and ``dev`` are (features, tokenized references) of the same photos, in the same order. The reward's
    document frequencies come from the training references.
    """
    scorer = CiderD(train[1])
    members = []
    for member, network in enumerate(networks):
        start, starting_weights = dev_cider(network, *dev, vocab, scorer), network.get_weights()
        best = (start["dev_cider_d"], 0, starting_weights)
        if verbose:
            print({"decoder": member + 1, "epoch": 0, **start}, flush=True)

        def keep_best(epoch: int, network=network) -> dict:
            nonlocal best
            scores = dev_cider(network, *dev, vocab, scorer)
            if scores["dev_cider_d"] > best[0]:
                best = (scores["dev_cider_d"], epoch, network.get_weights())
            return scores

        log = fine_tune(network, *train, vocab, config, scorer, config.seed + member, keep_best, verbose)
        network.set_weights(interpolate(starting_weights, best[2], config.mix))
        members.append({"kept_epoch": best[1], "dev_cider_d": best[0], "dev_cider_d_before": start["dev_cider_d"],
                        "epochs": log})
    return {"learning_rate": config.learning_rate, "max_epochs": config.epochs, "mix": config.mix,
            "samples_per_image": config.samples_per_image, "images_per_batch": config.images_per_batch,
            "seed": config.seed, "reward": "CIDEr-D, training-split document frequencies; baseline: the mean of "
                                           "the photo's other samples", "members": members}

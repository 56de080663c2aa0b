"""Experiment: CIDEr fine-tuning, self-critical sequence training (Rennie et al. 2017), of a trained captioner.

    .venv/bin/python -m experiments.scst_experiment MODEL --learning-rate 5e-5 --epochs 3 [--members I ...] [--out DIR]

An experiment helper, not part of the pipeline: in the runs tried here it did not beat the model it
started from on the dev split (README, *Experiments*), so nothing ships from it.

Cross-entropy training teaches the next word of a reference; the captions are then judged as whole
sentences (CIDEr). Fine-tuning optimises that judgement directly with REINFORCE: for every photo, sample
a few captions from the model, score each against the photo's references with CIDEr-D, and raise the
log-probability of those that score above the mean of the others (the baseline of Luo 2020), lower the
rest. Sampling runs in NumPy with the current weights (:mod:`captioner.numpy_decoder`), the gradient in
Keras through the same teacher-forced network that training used.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from captioner.decode import BANNED_IDS, beam_search
from captioner.numpy_decoder import NumpyMergeDecoder
from captioner.text import END_ID, PAD_ID, START_ID


# --- the reward: CIDEr-D ---------------------------------------------------------------------------


def ngrams(tokens: Sequence[str], n_max: int = 4) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


class CiderD:
    """CIDEr-D as the coco-caption toolkit computes it (n = 1..4, tf-idf, clipped counts, a Gaussian
    length penalty with sigma 6, x10), with document frequencies from a fixed reference corpus (the
    training split), so that a caption's score does not depend on the batch it is in."""

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


# --- sampling -----------------------------------------------------------------------------------------


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


# --- the training loop -------------------------------------------------------------------------------


@dataclass
class FinetuneConfig:
    epochs: int = 5
    images_per_batch: int = 50
    samples_per_image: int = 5
    learning_rate: float = 2e-5
    seed: int = 0


def finetune(network, features: np.ndarray, references: list[list[list[str]]], vocab,
             config: FinetuneConfig = FinetuneConfig(), scorer: CiderD | None = None,
             on_epoch=None) -> list[dict]:
    """Self-critical fine-tuning of ``network`` in place; a log line per epoch (mean reward, seconds).

    ``features[i]`` and ``references[i]`` belong to the same training photo. ``on_epoch(epoch, network)``
    is called after every epoch (to score the dev split, say).
    """
    import keras
    import tensorflow as tf

    scorer = scorer or CiderD(references)
    rng = np.random.default_rng(config.seed)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    k = config.samples_per_image
    log = []

    @tf.function(reduce_retracing=True)
    def train_step(image, inputs, targets, advantage):
        with tf.GradientTape() as tape:
            probs = network([image, inputs], training=False)  # as sampled: no dropout
            picked = tf.gather(probs, targets, batch_dims=2)
            mask = tf.cast(targets != PAD_ID, tf.float32)
            log_prob = tf.reduce_sum(tf.math.log(picked + 1e-9) * mask, axis=1)
            loss = -tf.reduce_mean(advantage * log_prob)
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        return loss

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
            length = int((sampled != PAD_ID).sum(axis=1).max())
            targets = sampled[:, :length]
            inputs = np.concatenate([np.full((len(sampled), 1), START_ID), targets[:, :-1]], axis=1)
            inputs = np.where(inputs == END_ID, PAD_ID, inputs)
            train_step(image.astype(np.float32), inputs.astype(np.int32), targets.astype(np.int32),
                       advantage.astype(np.float32))
            rewards.append(reward.mean())
        entry = {"epoch": epoch, "mean_reward": round(float(np.mean(rewards)), 4),
                 "seconds": round(time.perf_counter() - started, 1)}
        if on_epoch is not None:
            entry.update(on_epoch(epoch, network) or {})
        log.append(entry)
        print(entry, flush=True)
    return log


# --- the experiment ---------------------------------------------------------------------------------


def main() -> None:
    import shutil

    from captioner.data import load_captions, split_images
    from captioner.features import load_cached
    from captioner.text import tokenize
    from captioner.train.model import load_model, save_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--members", type=int, nargs="+", metavar="I",
                        help="fine-tune these members of an ensemble (0 is the first; default: every member)")
    parser.add_argument("--out", type=Path, help="a copy of the model folder with the fine-tuned weights (the best "
                        "dev epoch of each member), its card saying so")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    model = load_model(args.model)
    data = load_captions(None)
    tokenized = tokenize(data.captions)
    features = load_cached(model.encoder_name)
    train = [n for n in split_images(data, "train") if n in features]
    dev = [n for n in split_images(data, "dev") if n in features]
    references = [tokenized[n] for n in train]
    dev_features, dev_references = np.stack([features[n] for n in dev]), [tokenized[n] for n in dev]
    scorer = CiderD(references)

    def dev_score(epoch, network) -> dict:
        """Beam 3 on the dev split, scored with CIDEr-D (training document frequencies), and diversity."""
        best = beam_search(decoder_from_keras(network), dev_features, model.vocab.max_length, 3)
        captions = [model.vocab.decode(candidates[0].ids) for candidates in best]
        cider = np.mean([scorer.score(c, refs) for c, refs in zip(captions, dev_references)])
        return {"dev_cider_d_beam3": round(float(cider), 4),
                "dev_distinct": round(len({" ".join(c) for c in captions}) / len(captions), 3)}

    members = args.members if args.members is not None else range(len(model.networks))
    chosen = []
    for member in members:
        network = model.networks[member]
        start = {"epoch": 0, "member": member, **dev_score(0, network)}
        print(start, flush=True)
        best = (start["dev_cider_d_beam3"], 0, network.get_weights())

        def keep_best(epoch, network, member=member):
            nonlocal best
            scores = dev_score(epoch, network)
            if scores["dev_cider_d_beam3"] > best[0]:
                best = (scores["dev_cider_d_beam3"], epoch, network.get_weights())
            return {"member": member, **scores}

        finetune(network, np.stack([features[n] for n in train]), references, model.vocab,
                 FinetuneConfig(epochs=args.epochs, learning_rate=args.learning_rate, seed=member), scorer,
                 on_epoch=keep_best)
        network.set_weights(best[2])  # the best dev epoch's weights (epoch 0: the model as it was)
        chosen.append({"member": member, "epoch": best[1], "dev_cider_d_beam3": best[0],
                       "dev_cider_d_beam3_before": start["dev_cider_d_beam3"]})
        print(chosen[-1], flush=True)
    if args.out:
        if args.out.resolve() != args.model.resolve():
            shutil.copytree(args.model, args.out, dirs_exist_ok=True)  # the encoder and recogniser come along
        card = dict(model.card)
        card["training"] = {**card.get("training", {}), "self_critical": {
            "learning_rate": args.learning_rate, "max_epochs": args.epochs, "samples_per_image": 5,
            "reward": "CIDEr-D (training-split document frequencies)", "members": chosen}}
        save_model(model.networks, model.vocab, card, args.out)
        print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()

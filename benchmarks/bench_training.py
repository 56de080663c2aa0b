"""Epoch time of the classic merge recipe against this project's teacher forcing, on the same data.

    .venv/bin/python -m benchmarks.bench_training [--images 1000] [--encoder efficientnet_lite2]

The classic recipe (Brownlee's tutorial and its descendants) expands every caption into one sample per
word: (padded prefix, next word), and its LSTM returns only its last state. Teacher forcing feeds each
caption once and reads the LSTM's output at every position. Both use the same merge layers and sizes;
each trains one warm-up epoch, then one timed epoch, on the same images' cached features.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from captioner.data import load_captions
from captioner.features import load_cached
from captioner.train.model import build_model
from captioner.train.training import caption_examples, make_dataset
from captioner.text import tokenize
from captioner.text import Vocabulary


def classic_model(vocab_size: int, feature_size: int, max_length: int, units: int = 256):
    import keras
    from keras import layers

    image = keras.Input((feature_size,))
    prefix = keras.Input((max_length,), dtype="int32")
    x = layers.Dense(units, activation="relu")(layers.Dropout(0.5)(image))
    words = layers.Embedding(vocab_size, units, mask_zero=True)(prefix)
    words = layers.LSTM(units)(layers.Dropout(0.5)(words))
    merged = layers.Dense(units, activation="relu")(layers.Add()([x, words]))
    model = keras.Model([image, prefix], layers.Dense(vocab_size, activation="softmax")(merged))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def classic_samples(examples, max_length: int):
    """One (image row, padded prefix, next word) sample per word of every caption."""
    rows, prefixes, targets = [], [], []
    for row, ids in zip(examples.image_rows, examples.token_ids):
        for t in range(1, len(ids)):
            padded = np.zeros(max_length, np.int32)
            padded[:t] = ids[:t]
            rows.append(row)
            prefixes.append(padded)
            targets.append(ids[t])
    return examples.features[np.array(rows)], np.stack(prefixes), np.array(targets)


def timed_epoch(fit) -> float:
    fit()  # warm-up: graph tracing
    started = time.perf_counter()
    fit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--encoder", default="efficientnet_lite2")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    data = load_captions(None)
    names = data.split("train")[: args.images]
    tokenized = tokenize(data.captions)
    vocab = Vocabulary.build((c for n in names for c in tokenized[n]), min_count=5)
    features = load_cached(args.encoder)
    examples = caption_examples(names, features, tokenized, vocab)
    feature_size = examples.features.shape[1]

    forcing = build_model(len(vocab), feature_size)
    forcing.compile("adam", "sparse_categorical_crossentropy")
    dataset = make_dataset(examples, args.batch_size, shuffle=True)
    forcing_seconds = timed_epoch(lambda: forcing.fit(dataset, epochs=1, verbose=0))

    x_image, x_prefix, y = classic_samples(examples, vocab.max_length - 1)
    classic = classic_model(len(vocab), feature_size, vocab.max_length - 1)
    classic_seconds = timed_epoch(
        lambda: classic.fit((x_image, x_prefix), y, batch_size=args.batch_size, epochs=1, verbose=0)
    )
    print(f"{len(names)} images, {len(examples.token_ids)} captions, {len(y)} classic samples, batch {args.batch_size}")
    print(f"teacher forcing: {forcing_seconds:.1f} s per epoch")
    print(f"classic (one sample per word): {classic_seconds:.1f} s per epoch")
    print(f"teacher forcing is {classic_seconds / forcing_seconds:.1f}x faster per epoch")


if __name__ == "__main__":
    main()

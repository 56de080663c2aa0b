"""The merge captioner's architecture, and its networks as saved in (and loaded from) a model folder.

The merge architecture (Tanti et al. 2018) keeps the image out of the RNN: the LSTM reads only the
caption prefix, and the image vector is added to its output just before the word classifier::

    image vector -> Dropout -> Dense(units, relu) --------------------+
                                                                      add -> Dense(units, relu) -> Dense(V, softmax)
    caption prefix -> Embedding(mask_zero) -> Dropout -> LSTM(units) -+

The classic recipe trains it on one (prefix, next word) sample per word of every caption. Here the LSTM
returns its output at every position instead, so one pass over a whole caption trains every prefix of
it at once (teacher forcing, :mod:`captioner.train.training`). The network is the same: its output at position
``t`` is exactly what the classic model outputs for the prefix ``w0..wt``, which is how
:mod:`captioner.decode` uses it. Serving never imports this module: it reads the same files in NumPy
(:mod:`captioner.decode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..model_folder import (
    ARCHITECTURE_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    decoder_weight_files,
    load_card,
    member_weights_file,
    write_card,
)
from ..text import Vocabulary
from .keras_io import load_keras_network, save_keras_network


@dataclass
class ModelConfig:
    embed_dim: int = 256
    units: int = 256
    dropout: float = 0.5


def build_model(vocab_size: int, feature_size: int, config: ModelConfig = ModelConfig(), seed: int | None = None):
    """The merge captioner: ``(image features, caption prefix ids) -> next-word probabilities``.

    The prefix has any length; the output has one distribution per prefix position. With ``seed``, the
    initial weights are reproducible (training seeds its shuffling and dropout again itself).
    """
    import keras
    from keras import layers

    if seed is not None:
        keras.utils.set_random_seed(seed)

    image = keras.Input((feature_size,), name="image_features")
    prefix = keras.Input((None,), dtype="int32", name="caption_prefix")

    image_branch = layers.Dropout(config.dropout, name="image_dropout")(image)
    image_branch = layers.Dense(config.units, activation="relu", name="image_projection")(image_branch)
    # (batch, 1, units) so that the add below broadcasts the image over every caption position.
    image_branch = layers.Reshape((1, config.units), name="image_per_step")(image_branch)

    words = layers.Embedding(vocab_size, config.embed_dim, mask_zero=True, name="word_embedding")(prefix)
    words = layers.Dropout(config.dropout, name="word_dropout")(words)
    words = layers.LSTM(config.units, return_sequences=True, name="caption_lstm")(words)

    merged = layers.Add(name="merge")([image_branch, words])
    merged = layers.Dense(config.units, activation="relu", name="decoder_hidden")(merged)
    next_word = layers.Dense(vocab_size, activation="softmax", name="next_word")(merged)
    return keras.Model([image, prefix], next_word, name="merge_captioner")



@dataclass
class CaptionModel:
    """A trained captioner as loaded from its folder: one decoder network, or several that vote."""

    networks: list  # keras.Model, one per ensemble member, all of the same architecture
    vocab: Vocabulary
    card: dict

    @property
    def network(self):
        """The first member: the whole model when it is not an ensemble."""
        return self.networks[0]

    @property
    def encoder_name(self) -> str:
        return self.card["encoder"]["name"]


def save_model(networks: Sequence, vocab: Vocabulary, card: dict, folder: str | Path) -> Path:
    """Write the architecture JSON, one weights HDF5 per member, the vocabulary JSON and the model card.

    Members share one architecture (they differ only in their seed), so it is written once. Each file is
    written atomically.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A folder retrained with fewer members must not keep (and checksum, and serve) the old extra ones.
    for stale in folder.glob(WEIGHTS_FILE.replace(".weights.h5", "_*.weights.h5")):  # member_weights_file's names
        stale.unlink()
    for member, network in enumerate(networks):
        save_keras_network(network, folder / ARCHITECTURE_FILE, folder / member_weights_file(member))
    vocab.save(folder / VOCAB_FILE)
    write_card(folder, card)
    return folder


def load_model(folder: str | Path) -> CaptionModel:
    """Load a model folder with plain Keras: ``model_from_json`` + ``load_weights``, once per member."""
    folder = Path(folder)
    card = load_card(folder)
    vocab = Vocabulary.load(folder / VOCAB_FILE)
    networks = [load_keras_network(folder / ARCHITECTURE_FILE, folder / weights, "the model")
                for weights in decoder_weight_files(card)]
    return CaptionModel(networks, vocab, card)

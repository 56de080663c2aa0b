"""Encoders behind one interface, and the cached, resumable feature pipeline."""

import numpy as np
import pytest

from captioner import CaptionerError
from captioner.encoders import ENCODERS, get_encoder_spec
from captioner.features import FeatureWarning, extract_features, load_cached
from captioner.train.keras_encoders import build_encoder


def test_inception_v3_shapes_without_weights():
    encoder = build_encoder("inception_v3", pretrained=False)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    assert encoder.encode(pixels).shape == (2, 2048)
    assert encoder.spec.preprocess(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]


def test_inception_v3_offline_says_where_keras_looks_and_what_works_offline(tmp_path, monkeypatch):
    import keras.src.backend.config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    with pytest.raises(CaptionerError) as error:
        build_encoder("inception_v3")
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "keras_home" / "models" / "inception_v3_weights") in message
    assert "efficientnet_lite0" in message and "thumbnail" not in message


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(CaptionerError, match="unknown encoder 'resnet'.*inception_v3"):
        get_encoder_spec("resnet")


def test_every_encoder_card_records_what_a_model_needs():
    for spec in ENCODERS.values():
        card = spec.card()
        assert card["name"] == spec.name and card["input_size"] > 0 and card["feature_size"] > 0


class CountingEncoder:
    """The thumbnail encoder, counting how many photos reach the network."""

    def __init__(self):
        self.inner = build_encoder("thumbnail")
        self.spec = self.inner.spec
        self.encoded = 0

    def encode(self, pixels):
        self.encoded += len(pixels)
        return self.inner.encode(pixels)


def test_features_are_cached_and_a_rerun_encodes_nothing(colour_dataset, tmp_path):
    images = {p.name: p for p in sorted((colour_dataset / "Images").iterdir())}
    encoder = CountingEncoder()
    first = extract_features(encoder, images, tmp_path, batch_size=5, progress=False)
    assert encoder.encoded == len(images) == len(first)

    again = CountingEncoder()
    second = extract_features(again, images, tmp_path, progress=False)
    assert again.encoded == 0
    assert all(np.array_equal(first[name], second[name]) for name in images)
    # Red photos have a strong red channel in every cell of the colour grid.
    assert first["red_0.jpg"].reshape(-1, 3)[:, 0].min() > 0.7


def test_an_interrupted_extraction_resumes_with_the_missing_images(colour_dataset, tmp_path):
    images = {p.name: p for p in sorted((colour_dataset / "Images").iterdir())}
    first_half = dict(list(images.items())[:10])
    extract_features(CountingEncoder(), first_half, tmp_path, progress=False)
    encoder = CountingEncoder()
    features = extract_features(encoder, images, tmp_path, progress=False)
    assert encoder.encoded == len(images) - 10 and len(features) == len(images)
    assert len(load_cached("thumbnail", tmp_path)) == len(images)


def test_a_corrupt_image_is_reported_and_skipped(colour_dataset, tmp_path):
    images = {p.name: p for p in sorted((colour_dataset / "Images").iterdir())}
    broken = colour_dataset / "Images" / "red_1.jpg"
    broken.write_bytes(broken.read_bytes()[:300])
    (colour_dataset / "Images" / "notes.jpg").write_text("not a photo")
    images["notes.jpg"] = colour_dataset / "Images" / "notes.jpg"
    with pytest.warns(FeatureWarning, match=r"skipped 2 unreadable image\(s\).*notes.jpg: This file is not an image"):
        features = extract_features(build_encoder("thumbnail"), images, tmp_path, progress=False)
    assert set(features) == set(images) - {"red_1.jpg", "notes.jpg"}


def test_a_damaged_cache_part_is_ignored_not_trusted(colour_dataset, tmp_path):
    images = {p.name: p for p in sorted((colour_dataset / "Images").iterdir())}
    extract_features(build_encoder("thumbnail"), images, tmp_path, progress=False)
    (tmp_path / "thumbnail" / "part-0.npz").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.warns(FeatureWarning, match="ignoring unreadable cache file"):
        assert len(load_cached("thumbnail", tmp_path)) == len(images)

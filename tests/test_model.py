"""The merge captioner: teacher forcing equals the classic formulation, it learns, and its artifacts
load with plain Keras."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from captioner import CaptionerError
from captioner.decode import KerasPrefixStepper, caption_text, greedy_decode
from captioner.train.model import ModelConfig, build_model, load_model
from captioner.text import END_ID, START_ID

# The same network on inputs of other shapes (or in another process) multiplies in another order: float32
# probabilities agree to ~1e-7, not to the last bit; a wrong position or weight is off by far more.
FLOAT32_PROBABILITY_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def small_network():
    import keras

    keras.utils.set_random_seed(1)
    return build_model(vocab_size=30, feature_size=12, config=ModelConfig(embed_dim=8, units=8, dropout=0.3))


def test_each_position_predicts_what_the_classic_prefix_model_predicts(small_network):
    features = np.random.default_rng(0).random((1, 12), dtype=np.float32)
    caption = np.array([[START_ID, 7, 9, 11, 5, 8]])
    every_position = np.asarray(small_network([features, caption]))
    for t in range(caption.shape[1]):
        prefix_only = np.asarray(small_network([features, caption[:, : t + 1]]))[:, -1]
        np.testing.assert_allclose(every_position[:, t], prefix_only, atol=FLOAT32_PROBABILITY_TOLERANCE)


def test_padding_after_a_caption_changes_none_of_its_predictions(small_network):
    features = np.random.default_rng(1).random((1, 12), dtype=np.float32)
    caption = np.array([[START_ID, 7, 9]])
    padded = np.array([[START_ID, 7, 9, 0, 0, 0]])
    np.testing.assert_allclose(np.asarray(small_network([features, padded]))[:, :3],
                               np.asarray(small_network([features, caption])), atol=FLOAT32_PROBABILITY_TOLERANCE)


def test_architecture_is_the_merge_design(small_network):
    layers = {layer.name: layer for layer in small_network.layers}
    assert layers["word_embedding"].mask_zero
    assert layers["caption_lstm"].units == 8
    assert layers["image_projection"].activation.__name__ == "relu"
    assert layers["next_word"].activation.__name__ == "softmax"
    # The image never enters the LSTM: the LSTM reads the embedded words, the image joins at the merge.
    assert layers["caption_lstm"].input[0] is layers["word_dropout"].output
    assert layers["merge"].input == [layers["image_per_step"].output, layers["caption_lstm"].output]


def test_trained_model_names_the_colour_of_unseen_photos(trained_colour_model):
    root, _, run = trained_colour_model
    from captioner.data import load_captions

    from captioner.train.keras_encoders import build_encoder
    from captioner.images import load_rgb

    data = load_captions(root)
    test_images = data.split("test")
    assert not set(test_images) & set(run.train_images)
    features = build_encoder("thumbnail").encode(np.stack([load_rgb(data.image_path(n), (224, 224)) for n in test_images]))
    captions = [caption_text(ids, run.model.vocab) for ids in
                greedy_decode(KerasPrefixStepper(run.model.network), features, run.model.vocab.max_length)]
    for name, caption in zip(test_images, captions):
        assert name.split("_")[0] in caption.split(), f"{name}: {caption!r}"
        assert caption.endswith("square")


def test_the_saved_model_decodes_the_same_words_as_the_trained_one(trained_colour_model):
    root, out, run = trained_colour_model
    features = np.stack(list(run.features.values()))
    trained = greedy_decode(KerasPrefixStepper(run.model.network), features, run.model.vocab.max_length)
    loaded = load_model(out)
    reloaded = greedy_decode(KerasPrefixStepper(loaded.network), features, loaded.vocab.max_length)
    assert trained == reloaded
    assert len({tuple(ids) for ids in trained}) >= 4, "one caption per colour at least"


def test_plain_keras_in_a_fresh_process_gives_the_same_probabilities(trained_colour_model, tmp_path):
    _, out, run = trained_colour_model
    features = np.stack(list(run.features.values()))[:4]
    prefixes = np.array([[START_ID, 4, 5, 6]] * 4)
    np.savez(tmp_path / "inputs.npz", features=features, prefixes=prefixes)
    # No project code and no custom objects: only Keras, the JSON and the HDF5 weights.
    script = textwrap.dedent(f"""
        import numpy as np, keras
        model = keras.models.model_from_json(open({str(out / 'caption_model.json')!r}).read())
        model.load_weights({str(out / 'caption_model.weights.h5')!r})
        inputs = np.load({str(tmp_path / 'inputs.npz')!r})
        np.save({str(tmp_path / 'plain.npy')!r}, np.asarray(model([inputs['features'], inputs['prefixes']])))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, capture_output=True)
    plain = np.load(tmp_path / "plain.npy")
    ours = np.asarray(load_model(out).network([features, prefixes]))
    np.testing.assert_allclose(plain, ours, atol=FLOAT32_PROBABILITY_TOLERANCE)
    assert plain.shape == (4, 4, len(run.model.vocab))


def test_model_card_records_what_the_app_needs(trained_colour_model):
    _, out, run = trained_colour_model
    card = json.loads((out / "model_card.json").read_text())
    assert card["encoder"]["name"] == "thumbnail" and card["encoder"]["input_size"] == 224
    assert card["vocab_size"] == len(run.model.vocab) and card["max_length"] == run.model.vocab.max_length
    assert card["data"]["train_images"] == 16 and card["training"]["members"][0]["epochs_run"] >= 1
    assert card["decoding"] == {"beam": 3, "length_penalty": 0.0}
    assert card["versions"]["keras"].startswith("3.")
    assert card["files"]["weights"] == ["caption_model.weights.h5"]
    # The encoder travels as ONNX only; the Keras encoder is rebuilt from its weights package when needed.
    assert {p.name for p in out.iterdir()} == {"caption_model.json", "caption_model.weights.h5", "vocab.json",
                                                "model_card.json", "encoder.onnx"}


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(CaptionerError, match="no trained model in .*model_card.json"):
        load_model(tmp_path)


@pytest.mark.parametrize("checksums", [True, False], ids=["card-with-checksums", "older-card-without"])
def test_a_corrupt_weights_file_is_a_clear_error(trained_colour_model, tmp_path, checksums):
    import json
    import shutil

    _, out, _ = trained_colour_model
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "caption_model.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    if not checksums:
        card = json.loads((broken / "model_card.json").read_text())
        del card["checksums"]
        (broken / "model_card.json").write_text(json.dumps(card))
    expected = "caption_model.weights.h5 is damaged" if checksums else "cannot load the model"
    with pytest.raises(CaptionerError, match=expected):
        load_model(broken)


def test_greedy_decoding_stops_at_end_or_max_length():
    class Scripted:
        """Says word 5 twice then <end> for row 0; never ends for row 1."""

        def start(self, features):
            return 0

        def step(self, t, words):
            log_probs = np.full((2, 8), -10.0)
            log_probs[0, END_ID if t >= 2 else 5] = 0.0
            log_probs[1, 6] = 0.0
            log_probs[:, START_ID] = 5.0  # banned words never win
            return log_probs, t + 1

        def reorder(self, t, rows):
            return t

    assert greedy_decode(Scripted(), np.zeros((2, 3)), max_length=6) == [[5, 5], [6, 6, 6, 6, 6]]


def test_artifacts_hold_no_training_state(trained_colour_model):
    import h5py

    _, out, _ = trained_colour_model
    assert not json.loads((out / "caption_model.json").read_text()).get("compile_config")
    with h5py.File(out / "caption_model.weights.h5") as weights:
        assert "optimizer" not in weights, "the optimizer's moments would triple the file"


def test_a_seed_fixes_the_initial_weights():
    def first_weights(seed):
        return build_model(50, 12, ModelConfig(embed_dim=8, units=8), seed=seed).get_layer("next_word").get_weights()[0]

    np.testing.assert_array_equal(first_weights(3), first_weights(3))
    assert not np.allclose(first_weights(3), first_weights(4))

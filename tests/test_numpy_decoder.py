"""The NumPy decoder over the saved HDF5 weights gives the Keras network's probabilities and words."""

import numpy as np
import pytest

from captioner import CaptionerError
from captioner.decode import KerasPrefixStepper, NumpyMergeDecoder, beam_search, read_keras_weights
from captioner.text import START_ID
from captioner.train.model import load_model


@pytest.fixture(scope="module")
def both(trained_colour_model):
    _, model_dir, run = trained_colour_model
    features = np.stack(list(run.features.values()))
    keras_model = load_model(model_dir)
    numpy_decoder = NumpyMergeDecoder.from_file(model_dir / "caption_model.weights.h5")
    return features, keras_model, numpy_decoder


def test_next_word_probabilities_match_keras_along_every_prefix(both):
    features, keras_model, numpy_decoder = both
    rng = np.random.default_rng(0)
    prefixes = np.concatenate([np.full((len(features), 1), START_ID),
                               rng.integers(4, len(keras_model.vocab), (len(features), 7))], axis=1)
    keras_probs = np.asarray(keras_model.network.predict_on_batch([features, prefixes]))
    state = numpy_decoder.start(features)
    for t in range(prefixes.shape[1]):
        log_probs, state = numpy_decoder.step(state, prefixes[:, t])
        np.testing.assert_allclose(np.exp(log_probs), keras_probs[:, t], atol=1e-5)


@pytest.mark.parametrize("beam", [1, 3])
def test_same_captions_as_the_keras_network(both, beam):
    features, keras_model, numpy_decoder = both
    max_length = keras_model.vocab.max_length
    reference = beam_search(KerasPrefixStepper(keras_model.network), features, max_length, beam)
    lean = beam_search(numpy_decoder, features, max_length, beam)
    assert [[c.ids for c in r] for r in reference] == [[c.ids for c in r] for r in lean]
    np.testing.assert_allclose([c.log_prob for r in reference for c in r], [c.log_prob for r in lean for c in r],
                               atol=1e-4)


def test_weights_of_another_network_are_refused(tmp_path):
    keras = pytest.importorskip("keras", reason="writing another network's weights needs Keras (requirements-train.txt)")

    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="something_else")])
    network.save_weights(str(tmp_path / "other.weights.h5"))
    assert "something_else" in read_keras_weights(tmp_path / "other.weights.h5")
    with pytest.raises(CaptionerError, match="not a merge captioner"):
        NumpyMergeDecoder.from_file(tmp_path / "other.weights.h5")


def test_an_unreadable_weights_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(CaptionerError, match="cannot read weights"):
        NumpyMergeDecoder.from_file(tmp_path / "bad.weights.h5")


@pytest.mark.parametrize("beam", [2, 3, 4])
def test_one_photo_s_beam_matches_keras_too(both, beam):
    """One photo's beam is a batch of 2-4 rows, which the decoder multiplies row by row (see ``_product``)."""
    features, keras_model, numpy_decoder = both
    max_length = keras_model.vocab.max_length
    for image in features[:4]:
        reference = beam_search(KerasPrefixStepper(keras_model.network), image[None], max_length, beam)[0]
        lean = beam_search(numpy_decoder, image[None], max_length, beam)[0]
        assert [c.ids for c in reference] == [c.ids for c in lean]
        np.testing.assert_allclose([c.log_prob for c in reference], [c.log_prob for c in lean], atol=1e-4)


def test_stacked_decoders_average_like_an_ensemble_of_separate_ones(trained_colour_model):
    from captioner.decode import EnsembleStepper

    _, model_dir, run = trained_colour_model
    first = read_keras_weights(model_dir / "caption_model.weights.h5")
    rng = np.random.default_rng(1)
    second = {layer: [a + rng.normal(0, 0.2, a.shape).astype(a.dtype) for a in arrays] for layer, arrays in first.items()}
    stacked = NumpyMergeDecoder([first, second])
    separate = EnsembleStepper([NumpyMergeDecoder([first]), NumpyMergeDecoder([second])])
    features = np.stack(list(run.features.values()))
    stacked_state, separate_state = stacked.start(features), separate.start(features)
    for word in (START_ID, 4, 5):
        words = np.full(len(features), word)
        stacked_log_probs, stacked_state = stacked.step(stacked_state, words)
        separate_log_probs, separate_state = separate.step(separate_state, words)
        # Stacked, each decoder's product may take another BLAS kernel: equal to float32, not to the bit.
        np.testing.assert_allclose(stacked_log_probs, separate_log_probs, atol=1e-6)
    for beam in (1, 3, 6):  # 3 takes the row-by-row products, 6 the matrix product
        assert [[c.ids for c in r] for r in beam_search(stacked, features, 8, beam)] == \
            [[c.ids for c in r] for r in beam_search(separate, features, 8, beam)]


def test_decoders_of_different_shapes_are_not_stacked(colour_model):
    _, model_dir = colour_model
    weights = read_keras_weights(model_dir / "caption_model.weights.h5")
    narrower = {**weights, "decoder_hidden": [a[..., :-1] for a in weights["decoder_hidden"]]}
    with pytest.raises(CaptionerError, match="same shapes"):
        NumpyMergeDecoder([weights, narrower])

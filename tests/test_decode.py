"""Beam search: exact where the beam holds every hypothesis, length penalty, and on a trained model."""

import itertools

import numpy as np
import pytest

from captioner.decode import KerasPrefixStepper, beam_search, caption_text
from captioner.text import END_ID, START_ID

WORDS = (4, 5, 6)  # three ordinary words after the four special tokens
# A network run on a batch and on one photo sums in another order: float32 log-probabilities of a caption
# differ by ~1e-6 (seen: 6.6e-7), so equal means equal to this, never to the last bit.
FLOAT32_LOG_PROB_TOLERANCE = 1e-5


class MarkovStepper:
    """Next-word log-probabilities depend only on the last word (a fixed random table per image)."""

    def __init__(self, tables):
        self.tables = tables  # (images, vocab, vocab) log-probabilities

    def start(self, features):
        return np.arange(len(features))  # each row remembers its image

    def step(self, images, words):
        return self.tables[images, words].copy(), images

    def reorder(self, images, rows):
        return images[rows]


def random_tables(images, seed, vocab=7):
    logits = np.random.default_rng(seed).normal(0, 1.5, (images, vocab, vocab))
    logits[:, :, :END_ID] = -np.inf  # specials other than <end> never follow
    logits[:, :, END_ID] += 0.5
    return logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))


def exhaustive_best(table, max_length, length_penalty):
    """Every caption of up to max_length - 2 words, ended or cut off, scored as beam search scores it."""
    best, best_score = None, -np.inf
    for n in range(1, max_length):  # at least one word
        for words in itertools.product(WORDS, repeat=n):
            sequence = [START_ID, *words]
            log_prob = sum(table[a, b] for a, b in zip(sequence, sequence[1:]))
            if n < max_length - 1:  # ended with <end>; the longest ones are cut off at the limit instead
                log_prob += table[sequence[-1], END_ID]
            score = log_prob / (n + 1) ** length_penalty
            if score > best_score:
                best, best_score = list(words), score
    return best


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(5))
def test_a_beam_wide_enough_finds_the_exact_best_caption(seed, length_penalty):
    tables = random_tables(3, seed)
    max_length = 4  # three steps: 3 + 9 ended and 27 cut-off captions, all inside a beam of 64
    results = beam_search(MarkovStepper(tables), np.zeros((3, 1)), max_length, beam_size=64,
                          length_penalty=length_penalty)
    for image, candidates in enumerate(results):
        assert candidates[0].ids == exhaustive_best(tables[image], max_length, length_penalty)


def test_candidates_are_distinct_sorted_and_their_log_probs_are_the_model_s(seed=3):
    tables = random_tables(2, seed)
    results = beam_search(MarkovStepper(tables), np.zeros((2, 1)), max_length=6, beam_size=4)
    for image, candidates in enumerate(results):
        assert len({tuple(c.ids) for c in candidates}) == len(candidates) == 4
        assert [c.log_prob for c in candidates] == sorted((c.log_prob for c in candidates), reverse=True)
        for c in candidates:
            sequence = [START_ID, *c.ids, END_ID]
            expected = sum(tables[image, a, b] for a, b in zip(sequence, sequence[1:]))
            if len(c.ids) < 5:
                assert c.log_prob == pytest.approx(expected)


def test_length_penalty_prefers_the_longer_caption_when_its_words_are_likelier():
    table = np.full((7, 7), -np.inf)
    table[START_ID, 4] = 0.0
    table[4, END_ID] = np.log(0.4)  # "4": log 0.4 = -0.92 over two steps
    table[4, 5] = np.log(0.6)
    table[5, 6] = 0.0
    table[6, END_ID] = np.log(0.5)  # "4 5 6": log 0.3 = -1.20 over four steps
    stepper = MarkovStepper(table[None])
    raw = beam_search(stepper, np.zeros((1, 1)), 6, beam_size=2, length_penalty=0.0)[0]
    normalised = beam_search(stepper, np.zeros((1, 1)), 6, beam_size=2, length_penalty=1.0)[0]
    assert raw[0].ids == [4] and normalised[0].ids == [4, 5, 6]


def test_a_caption_is_never_empty():
    table = np.full((7, 7), -np.inf)
    table[START_ID, END_ID] = np.log(0.99)  # the model would rather say nothing
    table[START_ID, 4] = np.log(0.01)
    table[4, END_ID] = 0.0
    for beam in (1, 3):
        assert beam_search(MarkovStepper(table[None]), np.zeros((1, 1)), 6, beam_size=beam)[0][0].ids == [4]


def test_beam_search_on_the_trained_model_names_the_colour(trained_colour_model):
    from captioner.data import load_captions
    from captioner.train.keras_encoders import build_encoder
    from captioner.images import load_rgb

    root, _, run = trained_colour_model
    data = load_captions(root)
    names = data.split("test")
    features = build_encoder("thumbnail").encode(np.stack([load_rgb(data.image_path(n), (224, 224)) for n in names]))
    stepper = KerasPrefixStepper(run.model.network)
    max_length = run.model.vocab.max_length
    results = beam_search(stepper, features, max_length, beam_size=3)
    greedy = beam_search(stepper, features, max_length, beam_size=1)
    for i, (name, candidates) in enumerate(zip(names, results)):
        best = candidates[0]
        assert name.split("_")[0] in caption_text(best.ids, run.model.vocab).split()
        assert all(c.log_prob <= 0 for c in candidates)
        # A wider beam keeps the greedy path among its hypotheses, so it finds a caption at least as likely.
        # Both searches run the network on batches of other shapes, so the sums agree to float32, not exactly.
        assert best.log_prob >= greedy[i][0].log_prob - FLOAT32_LOG_PROB_TOLERANCE
        # Alone, the photo gets the caption it got in the batch, with the same log-probability (to float32).
        alone = beam_search(stepper, features[i:i + 1], max_length, beam_size=3)[0][0]
        assert alone.ids == best.ids
        assert alone.log_prob == pytest.approx(best.log_prob, abs=FLOAT32_LOG_PROB_TOLERANCE)


def test_an_ensemble_averages_its_members_probabilities():
    from captioner.decode import EnsembleStepper

    a, b = MarkovStepper(random_tables(2, 10)), MarkovStepper(random_tables(2, 11))
    ensemble = EnsembleStepper([a, b])
    features = np.zeros((2, 1))
    log_probs, _ = ensemble.step(ensemble.start(features), np.array([START_ID, 4]))
    with np.errstate(divide="ignore"):  # words neither member can say: log 0
        expected = np.log((np.exp(a.tables[[0, 1], [START_ID, 4]]) + np.exp(b.tables[[0, 1], [START_ID, 4]])) / 2)
    np.testing.assert_allclose(log_probs, expected, atol=1e-12)
    # An ensemble of one model and itself decodes exactly like the model.
    twice = beam_search(EnsembleStepper([a, a]), features, 6, beam_size=3)
    once = beam_search(a, features, 6, beam_size=3)
    assert [[c.ids for c in r] for r in twice] == [[c.ids for c in r] for r in once]


@pytest.mark.parametrize("k", [1, 2, 3, 7, 12])
def test_top_k_picks_what_a_stable_sort_picks_ties_and_infinities_included(k):
    from captioner.decode import top_k

    rng = np.random.default_rng(k)
    values = rng.integers(-3, 3, (50, 12)).astype(float)  # many ties
    values[rng.random(values.shape) < 0.3] = -np.inf
    expected = np.argsort(-values, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_k(values, k), expected)


def exhaustive_best_with(table, max_length, length_penalty, must=(), never=()):
    """exhaustive_best among captions that say one of ``must`` (if any) and none of ``never``."""
    best, best_score = None, -np.inf
    for n in range(1, max_length):
        for words in itertools.product(WORDS, repeat=n):
            if (must and not set(words) & set(must)) or set(words) & set(never):
                continue
            sequence = [START_ID, *words]
            log_prob = sum(table[a, b] for a, b in zip(sequence, sequence[1:]))
            if n < max_length - 1:
                log_prob += table[sequence[-1], END_ID]
            score = log_prob / (n + 1) ** length_penalty
            if score > best_score:
                best, best_score = list(words), score
    return best


def word_masks(images, words, vocab=7):
    mask = np.zeros((images, vocab), bool)
    mask[:, list(words)] = True
    return mask


@pytest.mark.parametrize("seed", range(5))
def test_constrained_search_finds_the_best_caption_that_says_a_required_word(seed):
    """Wide enough to hold every hypothesis, constrained beam search is exact over the captions that say the word."""
    tables = random_tables(3, seed)
    required = np.zeros((3, 7), bool)
    required[0, 4], required[1, 5], required[2, [5, 6]] = True, True, True
    results = beam_search(MarkovStepper(tables), np.zeros((3, 1)), 4, beam_size=64, length_penalty=1.0,
                          required=required)
    for image, must in enumerate([(4,), (5,), (5, 6)]):
        assert results[image][0].ids == exhaustive_best_with(tables[image], 4, 1.0, must=must)
        assert all(set(c.ids) & set(must) for c in results[image])


@pytest.mark.parametrize("seed", range(5))
def test_a_banned_word_never_appears_and_the_best_caption_without_it_is_found(seed):
    tables = random_tables(2, seed)
    results = beam_search(MarkovStepper(tables), np.zeros((2, 1)), 4, beam_size=64, length_penalty=1.0,
                          banned=word_masks(2, [5]))
    for image in range(2):
        assert results[image][0].ids == exhaustive_best_with(tables[image], 4, 1.0, never=(5,))
        assert all(5 not in c.ids for c in results[image])


def test_a_required_word_that_cannot_be_said_falls_back_to_the_plain_captions():
    tables = random_tables(1, 0)
    tables[:, :, 6] = -np.inf  # no step can say word 6
    plain = beam_search(MarkovStepper(tables), np.zeros((1, 1)), 4, beam_size=3)
    guided = beam_search(MarkovStepper(tables), np.zeros((1, 1)), 4, beam_size=3, required=word_masks(1, [6]))
    assert [c.ids for c in guided[0]] == [c.ids for c in plain[0]]

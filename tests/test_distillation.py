"""Distillation targets: the teachers' top next words at every prefix, mixed into the training target."""

import numpy as np
import pytest

from captioner.decode import KerasPrefixStepper, greedy_decode
from captioner.train.distillation import teacher_targets
from captioner.train.model import ModelConfig, build_model, load_model
from captioner.train.training import TrainConfig, caption_examples, make_dataset, train_model

# slow: it trains teachers and students (make test-fast leaves it out)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher(trained_colour_model):
    """The colour model as a teacher, with its training captions as examples."""
    from captioner.data import load_captions
    from captioner.text import tokenize

    root, model_dir, run = trained_colour_model
    model = load_model(model_dir)
    tokenized = tokenize(load_captions(root).captions)
    return model, caption_examples(run.train_images, run.features, tokenized, model.vocab)


def test_targets_are_the_teachers_top_words_renormalised(teacher):
    model, examples = teacher
    targets = teacher_targets([model.network, model.network], examples, top_k=3, batch_size=7)
    for caption in (0, 5, len(examples.token_ids) - 1):
        ids = examples.token_ids[caption]
        features = examples.features[examples.image_rows[caption]][None]
        probabilities = np.asarray(model.network.predict_on_batch([features, np.array([ids[:-1]])]))[0]
        positions = len(ids) - 1
        for t in range(positions):
            top = np.argsort(-probabilities[t])[:3]
            assert set(targets.words[caption, t]) == set(top)
            expected = dict(zip(top, probabilities[t, top] / probabilities[t, top].sum()))
            np.testing.assert_allclose([expected[w] for w in targets.words[caption, t]],
                                       targets.probabilities[caption, t], rtol=1e-4)
        assert not targets.probabilities[caption, positions:].any()  # past the caption's end: nothing


def test_the_training_target_mixes_the_caption_s_word_and_the_teachers(teacher):
    model, examples = teacher
    targets = teacher_targets([model.network], examples, top_k=3)
    vocab_size = len(model.vocab)
    for (features, inputs), target, weights in make_dataset(examples, 4, shuffle=False, one_hot=vocab_size,
                                                            teachers=targets, teacher_weight=0.25).take(3):
        inputs, target, weights = np.asarray(inputs), np.asarray(target), np.asarray(weights)
        probabilities = np.asarray(model.network.predict_on_batch([np.asarray(features), inputs]))
        real = weights > 0
        for row, t in zip(*np.nonzero(real)):
            # 0.75 on the caption's own next word (so it is the largest), 0.25 spread like the teacher's top 3.
            top = np.argsort(-probabilities[row, t])[:3]
            expected = np.zeros(vocab_size)
            expected[top] = 0.25 * probabilities[row, t, top] / probabilities[row, t, top].sum()
            expected[np.argmax(target[row, t])] += 0.75
            np.testing.assert_allclose(target[row, t], expected, atol=1e-5)
        np.testing.assert_allclose(target[real].sum(axis=-1), 1.0, atol=1e-5)


def test_a_student_learns_the_teacher_s_words_over_the_captions_it_is_given(teacher, trained_colour_model):
    """Each caption is paired with a photo of another colour: its own words would teach the wrong colour,
    the teacher (who sees the photo) the right one. Taught by the teacher alone, the student names the
    photo's colour as the teacher does; taught by the captions alone, it does not."""
    import dataclasses

    model, examples = teacher
    _, _, run = trained_colour_model
    colour = np.array([run.train_images[row].split("_")[0] for row in examples.image_rows])
    mismatched = dataclasses.replace(examples, image_rows=np.roll(examples.image_rows, (colour == colour[0]).sum()))
    assert not (colour == np.roll(colour, (colour == colour[0]).sum())).any()
    targets = teacher_targets([model.network], mismatched)
    max_length = model.vocab.max_length
    teacher_says = greedy_decode(KerasPrefixStepper(model.network), examples.features, max_length)
    for weight, same in ((1.0, True), (0.0, False)):
        student = build_model(len(model.vocab), examples.features.shape[1],
                              ModelConfig(embed_dim=32, units=32, dropout=0.1), seed=3)
        config = TrainConfig(epochs=40, batch_size=8, learning_rate=1e-2, patience=40, teacher_weight=weight)
        train_model(student, mismatched, mismatched, config, verbose=0, teachers=(targets, targets))
        student_says = greedy_decode(KerasPrefixStepper(student), examples.features, max_length)
        assert (student_says == teacher_says) is same


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    from tests.conftest import train_colour_model

    return train_colour_model(tmp_path_factory, epochs=30, seeds=[1, 2], distil=0.8)


def test_a_distilled_model_is_one_decoder_whose_card_names_its_teachers(distilled):
    from captioner.serving import Captioner

    _, out, run = distilled
    card = run.model.card
    assert card["name"] == "merge captioner distilled from 2"
    assert card["files"]["weights"] == ["caption_model.weights.h5"]
    assert not list(out.glob("caption_model_*.weights.h5")) and not (out / "checkpoints").exists()
    assert [t["seed"] for t in card["training"]["teachers"]] == [1, 2]
    assert [m["seed"] for m in card["training"]["members"]] == [1]  # the student takes the first seed
    assert card["training"]["teacher_weight"] == 0.8 and card["training"]["teacher_settings"]["teacher_weight"] == 0
    assert card["training"]["seconds"] == pytest.approx(
        sum(m["seconds"] for m in card["training"]["members"] + card["training"]["teachers"]), abs=0.2)
    assert Captioner(out).decoder.members == 1


def test_a_resumed_run_takes_a_finished_student_without_asking_the_teachers_again(teacher, tmp_path):
    from captioner.train.pipeline import distil

    model, examples = teacher
    config = TrainConfig(epochs=2, batch_size=8, teacher_weight=0.8, seed=5)
    args = (examples, examples, len(model.vocab), examples.features.shape[1], ModelConfig(embed_dim=16, units=16),
            config, tmp_path / "student", 0)
    first, history, seconds = distil([model.network], *args)
    unreachable = [None]  # teachers that fail if asked anything
    again, resumed_history, resumed_seconds = distil(unreachable, *args)
    assert resumed_history == history and resumed_seconds == pytest.approx(seconds)
    for before, after in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(Exception):  # and other settings do ask them
        distil(unreachable, *args[:5], TrainConfig(epochs=3, batch_size=8, teacher_weight=0.8, seed=5), *args[6:])


def test_a_student_keeps_the_teachers_recipe_without_label_smoothing():
    from captioner.train.distillation import student_config

    teachers = TrainConfig(epochs=20, learning_rate=2e-3, label_smoothing=0.1, seed=8)
    assert student_config(teachers, 0.8) == TrainConfig(epochs=20, learning_rate=2e-3, label_smoothing=0.0, seed=8,
                                                        teacher_weight=0.8)
    assert student_config(teachers, 0.5, epochs=12).epochs == 12


def test_the_student_names_the_colours_of_unseen_photos(distilled):
    from captioner.data import load_captions
    from captioner.serving import Captioner

    root, out, _ = distilled
    data = load_captions(root)
    for result in Captioner(out).caption_sources([str(data.image_path(n)) for n in data.split("test")], beam_size=1):
        assert result.source.rsplit("/", 1)[1].split("_")[0] in result.caption.split(), result


def test_a_teacher_weight_outside_0_to_1_is_refused(tmp_path, colour_dataset):
    from captioner import CaptionerError
    from captioner.train.pipeline import train_captioner
    from captioner.train.recipes import DEFAULT, override

    with pytest.raises(CaptionerError, match="teacher weight"):
        train_captioner(override(DEFAULT, seeds=[1, 2], distil=0.0), tmp_path / "m", colour_dataset)

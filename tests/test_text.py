"""Caption cleaning and the JSON vocabulary."""

import json

import pytest

from captioner import CaptionerError
from captioner.text import END_ID, START_ID, UNK_ID, Vocabulary, clean_caption


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("A child in a pink dress is climbing up a set of stairs in an entry way .",
         "a child in a pink dress is climbing up a set of stairs in an entry way"),
        ("Two dogs' owners play at 3pm, in the K9 park!", "two dogs owners play at in the park"),
        ("A black-and-white dog", "a black and white dog"),
        ("  ", ""),
        ("a man 's hat", "a man hat"),
    ],
)
def test_clean_caption(raw, cleaned):
    assert " ".join(clean_caption(raw)) == cleaned


def test_vocabulary_keeps_frequent_words_most_frequent_first():
    captions = [["a", "dog", "runs"], ["a", "dog", "sits"], ["a", "cat", "runs"]]
    vocab = Vocabulary.build(captions, min_count=2)
    assert vocab.words[4:] == ["a", "dog", "runs"]
    assert vocab.max_length == 5  # three words plus <start> and <end>


def test_encode_decode_round_trip_and_unknown_words():
    vocab = Vocabulary.build([["a", "dog", "runs"]], min_count=1)
    ids = vocab.encode(["a", "dog", "swims"])
    assert ids[0] == START_ID and ids[-1] == END_ID and ids[3] == UNK_ID
    assert vocab.decode(vocab.encode(["a", "dog", "runs"])) == ["a", "dog", "runs"]
    assert vocab.decode([vocab.index["dog"], END_ID, vocab.index["a"]]) == ["dog"]


def test_vocabulary_saves_as_plain_json_and_loads_identically(tmp_path):
    vocab = Vocabulary.build([["a", "dog"], ["a", "cat"]], min_count=1)
    vocab.save(tmp_path / "vocab.json")
    data = json.loads((tmp_path / "vocab.json").read_text())
    assert data["words"][:4] == ["<pad>", "<unk>", "<start>", "<end>"]
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.words == vocab.words and loaded.max_length == vocab.max_length


def test_a_broken_vocabulary_file_is_a_clear_error(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(CaptionerError, match="cannot load vocabulary"):
        Vocabulary.load(tmp_path / "vocab.json")


def test_real_flickr8k_vocabulary_size_and_length(flickr8k_root):
    from captioner.data import load_captions
    from captioner.text import tokenize

    data = load_captions(flickr8k_root)
    tokenized = tokenize(data.captions)
    vocab = Vocabulary.build((c for n in data.split("train") for c in tokenized[n]), min_count=5)
    # Thresholds the literature reports for Flickr8k at 5+ occurrences: a couple of thousand words.
    assert 2000 < len(vocab) < 3500
    assert 30 < vocab.max_length < 45

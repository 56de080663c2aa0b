"""Reading caption data sets: both layouts, the real Flickr8k, and broken inputs."""

import pytest

from captioner import CaptionerError
from captioner.data import DataWarning, derive_splits, load_captions, read_captions_csv, read_token_file


def test_the_real_flickr8k_loads_with_its_official_split(flickr8k_root):
    with pytest.warns(DataWarning, match="2258277193_586949ec62.jpg.1") as caught:
        data = load_captions(flickr8k_root)
    reports = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(reports) == 1, "the missing image is reported once"
    assert len(data) == 8091
    assert {split: len(names) for split, names in data.splits.items()} == {"train": 6000, "dev": 1000, "test": 1000}
    assert all(len(data.captions[name]) == 5 for name in data.split("test"))
    assert not set(data.split("train")) & set(data.split("test"))
    assert data.image_path(data.split("train")[0]).is_file()


def test_token_file_lines_become_image_caption_pairs(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("a.jpg#0\tA dog runs .\na.jpg#1\tA dog .\nbroken line without tab\nb.jpg#0\t \n")
    with pytest.warns(DataWarning, match="2 malformed"):
        pairs = read_token_file(path)
    assert pairs == [("a.jpg", "A dog runs ."), ("a.jpg", "A dog .")]


def test_captions_csv_keeps_commas_inside_captions(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text('image,caption\na.jpg,"A dog, wet, shakes ."\na.jpg,A dog, black, runs .\n')
    assert read_captions_csv(path) == [("a.jpg", "A dog, wet, shakes ."), ("a.jpg", "A dog, black, runs .")]


def test_captions_csv_with_a_wrong_header_is_refused(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("name|comment\na.jpg|A dog\n")
    with pytest.raises(CaptionerError, match="header 'image,caption'"):
        read_captions_csv(path)


def test_kaggle_layout_without_split_files_gets_a_reproducible_split(colour_dataset):
    token_lines = (colour_dataset / "Flickr8k.token.txt").read_text().splitlines()
    (colour_dataset / "Flickr8k.token.txt").unlink()
    for split_file in colour_dataset.glob("Flickr_8k.*Images.txt"):
        split_file.unlink()
    rows = [line.replace("\t", ",", 1).split("#")[0] + "," + line.split("\t")[1] for line in token_lines]
    (colour_dataset / "captions.txt").write_text("image,caption\n" + "\n".join(rows) + "\n")

    data = load_captions(colour_dataset)
    assert len(data) == 24
    assert sorted(sum(data.splits.values(), [])) == sorted(data.captions)
    assert data.splits == load_captions(colour_dataset).splits
    assert derive_splits(sorted(data.captions)) == data.splits


def test_missing_data_folder_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(CaptionerError, match=r"data folder not found: .*nowhere.*CAPTIONER_DATA"):
        load_captions(tmp_path / "nowhere")


def test_empty_caption_file_is_a_clear_error(colour_dataset):
    (colour_dataset / "Flickr8k.token.txt").write_text("")
    with pytest.raises(CaptionerError, match="no captions in .*Flickr8k.token.txt"):
        load_captions(colour_dataset)


def test_split_file_naming_absent_images_keeps_the_valid_ones(colour_dataset):
    split = colour_dataset / "Flickr_8k.testImages.txt"
    valid = split.read_text().split()
    split.write_text("\n".join(valid + ["ghost_1.jpg", "ghost_2.jpg"]) + "\n")
    with pytest.warns(DataWarning, match=r"2 image\(s\) of split 'test'.*ghost_1.jpg"):
        data = load_captions(colour_dataset)
    assert data.split("test") == valid


def test_captions_of_a_missing_photo_are_skipped_with_one_warning(colour_dataset):
    (colour_dataset / "Images" / "red_0.jpg").unlink()
    with pytest.warns(DataWarning, match=r"1 captioned image\(s\) not found.*red_0.jpg") as caught:
        data = load_captions(colour_dataset)
    assert "red_0.jpg" not in data.captions and "red_1.jpg" in data.captions
    assert len([w for w in caught if "not found" in str(w.message)]) == 1


def test_unknown_split_is_named(colour_dataset):
    with pytest.raises(CaptionerError, match="unknown split 'validation'.*train, dev, test"):
        load_captions(colour_dataset).split("validation")

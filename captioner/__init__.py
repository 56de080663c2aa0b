"""captioner: describe a photo in one sentence.

The package follows the path of the data, one module per stage:

    data -> text -> images/encoders/features -> model -> decode -> evaluate -> serving

Its top level needs no TensorFlow: it serves, scores and writes alt text from a model folder
(:mod:`captioner.model_folder`) with NumPy and ONNX Runtime. Everything that needs TensorFlow and Keras
(the model's network, training, distillation, the recipes, the Keras encoders and their ONNX export) is in
:mod:`captioner.train`. The notebook, the CLI (``python -m captioner``) and the Flask app are thin drivers.
"""

import os

__version__ = "0.1.0"

# TensorFlow prints a wall of C++ start-up notes unless told otherwise; users need none of them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# NumPy's OpenBLAS starts one busy-waiting thread per core. The decoder's small matrix products gain
# nothing from them, and they take the cores from ONNX Runtime and from the other gunicorn worker: with two
# workers under load, 10 requests/s with them, 53 without (benchmarks/load_test.py). Effective when this
# package is imported before NumPy, as in app.py, the CLI and gunicorn.conf.py.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class CaptionerError(Exception):
    """A problem the user can fix (bad path, bad file, bad option).

    Drivers print ``str(error)`` as one line (CLI) or return it as JSON (HTTP); they never show a
    traceback for it.
    """

"""captioner: describe a photo in one sentence, good enough to use as alt text.

    import captioner
    model = captioner.load()                     # model/ beside the package, or a folder you name
    result = model.caption_image(open("photo.jpg", "rb").read())
    print(result.alt_text, result.confidence)

The package follows the path of the data, one module per stage:

    data, text -> images -> encoders, features -> decode (+ guidance) -> serving -> evaluate, alttext

Its top level needs no TensorFlow: it serves, scores and writes alt text from a model folder
(:mod:`captioner.model_folder`) with NumPy and ONNX Runtime. Everything that needs the training requirements
(TensorFlow and Keras: the model's network, training, the recipes, the Keras encoders and their ONNX export;
the notebook's plots) is in :mod:`captioner.train`. The notebook, the CLI (``python -m captioner``) and the
Flask app are thin drivers.
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime is imported by load(), not by importing the package
    from .serving import Captioner

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

    Drivers print ``str(error)`` as one line (CLI) or return it as JSON (HTTP), beside ``code``, a stable word a
    program can act on; they never show a traceback for it.
    """

    code = "bad_request"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


def load(model_dir: str | os.PathLike | None = None, *, encoder_threads: int | None = None) -> "Captioner":
    """The captioner for a model folder: ``model_dir``, else ``$CAPTIONER_MODEL``, else the shipped ``model/``.

    Its ``caption_image(bytes)`` answers one photo, ``caption_sources(paths)`` many, in batches. Raises
    :class:`CaptionerError` for a folder that is missing, damaged or does not fit together. ``encoder_threads``
    caps ONNX Runtime's threads (default: one per core).
    """
    from .model_folder import default_model_dir
    from .serving import Captioner

    return Captioner(model_dir if model_dir is not None else default_model_dir(), encoder_threads=encoder_threads)

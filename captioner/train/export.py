"""Files derived from the Keras model for the lean runtime, each checked against Keras when written.

Serving runs without TensorFlow: the decoder in NumPy over ``caption_model.weights.h5`` itself
(:mod:`captioner.decode`), and the encoder in ONNX Runtime from ``encoder.onnx``, which this
module converts from the Keras encoder (tf2onnx) and refuses to write unless its features match Keras's
within ``tolerance`` on a batch of photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..io import atomic_path
from ..model_folder import ONNX_ENCODER_FILE


def export_onnx_encoder(encoder, folder: Path, photos: np.ndarray | None = None, tolerance: float = 1e-4) -> Path:
    """Write ``folder/encoder.onnx`` from a Keras encoder, after checking it reproduces the features."""
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    side = encoder.spec.input_size
    signature = (tf.TensorSpec((None, side, side, 3), tf.float32, name="pixels"),)
    if photos is None:
        photos = np.random.default_rng(0).integers(0, 256, (4, side, side, 3), dtype=np.uint8)
    inputs = encoder.spec.preprocess(photos)
    expected = np.asarray(encoder.network.predict_on_batch(inputs))
    with atomic_path(folder / ONNX_ENCODER_FILE) as tmp:
        tf2onnx.convert.from_keras(encoder.network, input_signature=signature, opset=17, output_path=str(tmp))
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: inputs})[0]
        difference = float(np.abs(got - expected).max())
        if difference > tolerance:
            raise CaptionerError(f"the ONNX encoder differs from Keras by {difference:.2e} (limit {tolerance:.0e})")
    return folder / ONNX_ENCODER_FILE

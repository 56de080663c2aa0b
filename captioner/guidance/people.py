"""Evidence of a person that does not come from Flickr8k: MediaPipe's face and pose detectors, in ONNX Runtime.

The person probe learned "person" from Flickr8k, where nearly every close-up is of a child and nearly every
landscape has a hiker in it, so it is confident on a coffee cup, a cat or a lone tree. Two detectors trained on
other photos ask the photo itself: BlazeFace's full-range face detector (192 x 192) and BlazePose's person
detector (224 x 224), whose weights ship in the ``mediapipe==0.10.14`` wheel (Apache 2.0) and are converted once
to ONNX by ``python -m tools.make_person_detector``, so serving needs neither MediaPipe nor TensorFlow. Both are
single-shot detectors over a fixed grid of anchors; whether anyone is there is their most confident anchor's
score, so no box decoding or suppression is needed.

They miss people seen from behind or far away (about a third of Flickr8k's people), so they are evidence for a
person, not against one: :mod:`.rules` lets person words through where the probe is confident and the photo is
like Flickr8k's, or where the probe leans that way and a detector sees someone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..model_folder import load_onnx

# MediaPipe's own default score thresholds for both detectors.
FACE_THRESHOLD = 0.5
POSE_THRESHOLD = 0.5


class PersonDetector:
    """Pixels -> the face and pose detectors' best scores, and whether either sees a person."""

    def __init__(self, face_model: Path, pose_model: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()  # one thread per core, as the encoder: a photo in doubt waits for them
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Without ONNX Runtime's memory arena a worker keeps 5 MB for both detectors instead of 12, at no cost in
        # time: they run on few photos, and one at a time.
        options.enable_cpu_mem_arena = False
        self.sessions = []
        for path in (face_model, pose_model):
            session = load_onnx(path, options, "the person detector")
            side = session.get_inputs()[0].shape[1]
            self.sessions.append((session, session.get_inputs()[0].name, int(side)))

    def score(self, detector: int, pixels: np.ndarray) -> float:
        """One detector's (0: face, 1: pose) most confident anchor, for one ``(height, width, 3)`` uint8 image."""
        session, name, side = self.sessions[detector]
        x = np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR), np.float32) / 127.5 - 1.0
        outputs = session.run(None, {name: x[None]})
        logits = min(outputs, key=lambda a: a.shape[-1])  # (1, anchors, 1) scores beside (1, anchors, N) boxes
        return float(1.0 / (1.0 + np.exp(-np.clip(logits.max(), -100.0, 100.0))))

    def scores(self, pixels: np.ndarray) -> tuple[float, float]:
        """The face and the pose detector's most confident anchor."""
        return self.score(0, pixels), self.score(1, pixels)

    def sees_person(self, pixels: np.ndarray) -> bool:
        """Whether either detector sees someone: the face detector first (a quarter of the pose detector's time),
        the pose detector only where it sees no face."""
        return self.score(0, pixels) >= FACE_THRESHOLD or self.score(1, pixels) >= POSE_THRESHOLD

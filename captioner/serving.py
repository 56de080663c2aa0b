"""The lean runtime: captions from a model folder without TensorFlow.

The decoder runs in NumPy over the saved HDF5 weights (:mod:`captioner.decode`), the encoder in ONNX
Runtime from ``encoder.onnx`` (:mod:`captioner.train.export` writes it, checked against Keras); guidance
(:mod:`captioner.guidance`) names what is in the photo and says how sure the caption is, and occlusion maps say
where each word came from (:meth:`Captioner.explain_image`, at the end of this file). Only NumPy,
Pillow, h5py and onnxruntime are imported, so a serving process stays small; nothing here imports
:mod:`captioner.train`. A folder without ``encoder.onnx`` (an older or hand-made one) is refused with the
command that writes it; a caller that has a Keras encoder may pass it as ``encoder``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from . import CaptionerError
from .decode import Candidate, NumpyMergeDecoder, beam_search, caption_text
from .encoders import EncoderSpec, get_encoder_spec
from .guidance.kinds import ImageKind, classify, may_be, sentence
from .guidance.novelty import NoveltyIndex
from .guidance.people import PersonDetector
from .guidance.recognition import ObjectRecogniser
from .guidance.rules import Guidance, GuidanceConfig, GuidedCaption
from .images import MAX_PIXELS, MIN_SIDE, load_for_reading, load_in_batches, load_rgb
from .io import heavy_work
from .model_folder import (
    FACE_DETECTOR_FILE, NOVELTY_FILE, OBJECTS_FILE, ONNX_ENCODER_FILE, POSE_DETECTOR_FILE, TEXT_GATE_FILE,
    VOCAB_FILE, decoder_weight_files, decoding_defaults, load_card, load_onnx,
)
from .reading import READING_SIDE, TextLine, TextReader
from .reading.gate import TextGate
from .reading.wording import FoundText
from .text import START_ID, Vocabulary

# A gunicorn worker answers on several threads, so that a slow upload ties up a thread rather than the worker,
# but decoding and encoding are bound by CPU and memory: each photo in flight holds its pixels and the
# encoder's buffers. One at a time, a worker that had accepted more of the requests queued them while the
# other sat idle: 34.6 requests/s at concurrency 8, against 38.6 for sync workers; two at a time, 38.0; no
# limit, 38.8 (benchmarks/bench_workers.py, docs/operations.md).
PHOTOS_AT_ONCE = 2
# An explanation's grid: 6 x 6 cells, 37 encoder passes (the photo and each covered copy).
DEFAULT_GRID = 6
# Lines of text the recogniser is less sure of are left out (the card's text_reader.min_confidence overrides):
# with the gate, 0.8 reported text on 0.8% of Flickr8k dev photos (0.7: 1.3%), where the target is 2%.
TEXT_MIN_CONFIDENCE = 0.8
# The ImageNet layer's probability of a sign from which text found in a photo is said to be on a sign.
SIGN_PROBABILITY = 0.2


class OnnxEncoder:
    """The encoder exported to ONNX, with the same ``spec`` and ``encode`` as the Keras one."""

    def __init__(self, path: Path, spec: EncoderSpec, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:  # otherwise one per core
            options.intra_op_num_threads = threads
        # Spinning threads wait for work by burning CPU; between requests that CPU is what the next
        # request's JPEG decoding needs. Without spinning: 11.7 ms instead of 15.2 ms per photo here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.spec = spec
        self.session = load_onnx(path, options, "the ONNX encoder")
        self.input_name = self.session.get_inputs()[0].name

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: self.spec.preprocess(pixels)})[0]


# The API's earlier names for fields, still sent beside the new ones for one release (the OpenAPI description says so).
RENAMED_FIELDS = {"named": "thing_named", "guided": "search_constrained", "person_probability": "person_probe"}


@dataclass
class CaptionResult:
    """One photo's answer: the runtime's single result type (the API, the page, alt text and evaluation read it)."""

    source: str
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (caption, log-probability), best first
    error: str | None = None
    guidance: GuidedCaption | None = None  # None for a model folder without objects.npz
    timing_ms: dict[str, float] | None = None  # where one photo's time went, for caption_image
    scores: list[float] = field(default_factory=list)  # each candidate's rank in the search (Candidate.score)
    text: FoundText | None = None  # the text read in it; None where the reader did not look

    @property
    def text_lines(self) -> tuple[TextLine, ...]:
        return self.text.lines if self.text is not None else ()

    @property
    def caption(self) -> str | None:
        return self.candidates[0][0] if self.candidates else None

    @property
    def confidence(self) -> float | None:
        return None if self.guidance is None else self.guidance.confidence

    @property
    def alt_text(self) -> str | None:
        """What a reader gets, as sure as the model is: the sentence; "Maybe ..." where it is in doubt; where it is
        unsure, only a thing it is fairly sure of ("May be a cheetah."), or nothing (a person must describe it).
        What is not a photo gets what can truly be said of it ("A plain black image."), or nothing. Text read in
        the image is quoted in it (:mod:`captioner.reading.wording`)."""
        if self.caption is None:
            return None
        described = self.described()
        if not self.text_lines:
            return described
        guidance = self.guidance
        photo = guidance is None or guidance.kind.photo
        sign = guidance is not None and (guidance.sure_of == "sign" or any(
            o.word == "sign" and o.imagenet_probability >= SIGN_PROBABILITY for o in guidance.objects))
        return self.text.alt_text(described if photo else "", photo, sign)

    def described(self) -> str:
        """The alt text the image gets from what it shows, without its text."""
        guidance = self.guidance
        if guidance is None or guidance.certainty == "confident":
            return sentence(self.caption)
        if guidance.certainty == "hedged":
            return f"Maybe {self.caption}."
        return may_be(guidance.sure_of) if guidance.sure_of else ""

    @property
    def note(self) -> str | None:
        """For the person using the alt text, whenever it is not a confident sentence: why, and what to do; and
        wherever it quotes text, that a machine read it."""
        read = " The quoted text was read by machine: check it against the image." if self.text_lines else ""
        guidance = self.guidance
        if guidance is None or guidance.certainty == "confident":
            return read.strip() or None
        if guidance.kind.kind == "graphic":
            if read:
                return ("This does not look like a photo, so the alt text gives only the text read in it: add what "
                        "the image shows." + read)
            return ("This does not look like a photo (a chart, a drawing, a screenshot?): the model cannot describe "
                    "it. Write its alt text yourself.")
        if guidance.certainty == "hedged":
            return "The model is not sure of this sentence, so the alt text begins with \"Maybe\". Check it." + read
        if guidance.sure_of:
            return ("The model is unsure what this image shows, so the alt text says only what it is fairly sure of."
                    + read)
        return "The model cannot describe this image reliably. Write its alt text yourself." + read

    def as_dict(self) -> dict:
        """The JSON the API answers with."""
        result = {
            "caption": self.caption,
            "alt_text": self.alt_text,
            "candidates": [{"caption": text, "log_prob": round(log_prob, 4), "score": round(score, 4)}
                           for (text, log_prob), score in zip(self.candidates, self.scores, strict=True)],
            "text": [line.as_dict() for line in self.text_lines],
            "text_looked_for": self.text is not None,
        }
        if self.guidance is not None:
            guidance = self.guidance
            result.update({
                "confidence": round(guidance.confidence, 3),
                "unsure": guidance.unsure,
                "certainty": guidance.certainty,
                "note": self.note,
                "photo": guidance.kind.photo,
                "kind": guidance.kind.kind,
                "novelty": round(guidance.novelty, 3),
                "person_detected": guidance.person_detected,
                "objects": [o.as_dict() for o in guidance.objects],
                "thing_named": None if guidance.tag is None else guidance.tag.word,
                "search_constrained": guidance.guided,
                "person_probe": round(guidance.person_probability, 3),
            })
            result.update({old: result[new] for old, new in RENAMED_FIELDS.items()})
        if self.timing_ms is not None:
            result["timing_ms"] = self.timing_ms
        return result


class Captioner:
    """Captions photos with a trained model folder, using the encoder its model card names.

    Decoding runs in NumPy over the saved weights, carrying the LSTM state from word to word; it gives
    the Keras network's words (tests check it on 200 test photos). An ensemble's decoders all read the
    same features and their next-word distributions are averaged. Beam width and length penalty default
    to the ones the model card records (chosen on the dev split).

    Safe to share between threads, and it works on at most PHOTOS_AT_ONCE photos at a time.
    """

    def __init__(self, model_dir: str | Path, encoder=None, encoder_threads: int | None = None,
                 load_guidance: bool = True):
        folder = Path(model_dir)
        self.card = load_card(folder)
        self.vocab = Vocabulary.load(folder / VOCAB_FILE)
        self.decoder = NumpyMergeDecoder.from_files([folder / name for name in decoder_weight_files(self.card)])
        self.decoding = decoding_defaults(self.card.get("decoding"))
        if encoder is None:
            if not (folder / ONNX_ENCODER_FILE).is_file():  # serving never builds a Keras encoder itself
                raise CaptionerError(f"no {ONNX_ENCODER_FILE} in {folder}: write it with python -m captioner export "
                                     f"--model {folder} (needs requirements-train.txt)")
            encoder = OnnxEncoder(folder / ONNX_ENCODER_FILE, get_encoder_spec(self.encoder_name), encoder_threads)
        self.encoder = encoder
        self.guidance = None  # without load_guidance too: fitting guidance needs only the encoder
        if load_guidance and (folder / OBJECTS_FILE).is_file():
            recogniser = ObjectRecogniser.from_file(folder / OBJECTS_FILE)
            novelty = NoveltyIndex.from_file(folder / NOVELTY_FILE) if (folder / NOVELTY_FILE).is_file() else None
            detector = None
            if (folder / FACE_DETECTOR_FILE).is_file() and (folder / POSE_DETECTOR_FILE).is_file():
                detector = PersonDetector(folder / FACE_DETECTOR_FILE, folder / POSE_DETECTOR_FILE)
            self.guidance = Guidance(self.vocab, recogniser, GuidanceConfig.from_card(self.card.get("guidance")),
                                     novelty, detector)
        # The text reader, where the folder has one; the gate decides which images it reads (without a gate, all).
        self.reader = TextReader.from_folder(folder) if load_guidance else None
        self.text_gate = None
        if self.reader is not None and (folder / TEXT_GATE_FILE).is_file():
            self.text_gate = TextGate.from_file(folder / TEXT_GATE_FILE)
        self.text_min_confidence = float(self.card.get("text_reader", {}).get("min_confidence", TEXT_MIN_CONFIDENCE))
        self._check_shapes(folder)
        self._photos_at_once = threading.BoundedSemaphore(PHOTOS_AT_ONCE)

    def _check_shapes(self, folder: Path) -> None:
        """Files from different models fit together badly: refuse them rather than caption with them."""
        decoder = self.decoder
        expected = {
            "vocabulary entries (vocab.json) vs the decoder's words": (len(self.vocab), decoder.vocab_size),
            "the decoder's output words vs its input words": (decoder.output_kernel.shape[2], decoder.vocab_size),
            "the encoder's feature size vs the decoder's": (self.encoder.spec.feature_size, decoder.feature_size),
        }
        if self.guidance is not None:
            expected["the object recogniser's feature size vs the decoder's"] = (
                self.guidance.recogniser.classifier_kernel.shape[0], decoder.feature_size)
        if self.guidance is not None and self.guidance.novelty is not None:
            expected["the novelty index's feature size vs the decoder's"] = (
                self.guidance.novelty.feature_size, decoder.feature_size)
        for what, (a, b) in expected.items():
            if a != b:
                raise CaptionerError(f"the model in {folder} does not fit together: {what}: {a} != {b}")

    @property
    def encoder_name(self) -> str:
        return self.card["encoder"]["name"]

    def warm_up(self) -> None:
        """Run one blank photo through, and the person detector and the text reader once, so the first real request
        does not pay for their sessions' first runs (~0.8 s)."""
        side = self.encoder.spec.input_size
        blank = np.zeros((1, side, side, 3), np.uint8)
        self.describe_features(self.encoder.encode(blank), ["blank"], pixels=blank)
        if self.guidance is not None and self.guidance.detector is not None:
            self.guidance.detector.scores(blank[0])
        if self.reader is not None:
            self.reader.read(blank[0])

    def describe_features(self, features: np.ndarray, sources: list[str], beam_size: int | None = None,
                          length_penalty: float | None = None, guided: bool = True,
                          config: GuidanceConfig | None = None, pixels=None) -> list[CaptionResult]:
        """Each photo's :class:`CaptionResult`; with a recogniser (and ``guided``), by :mod:`captioner.guidance`'s
        rules: what is not a photo said plainly, person words only where a person is evidenced, the confident tag
        named, a confidence that falls on photos unlike Flickr8k's. ``config`` replaces the card's thresholds (as
        :mod:`captioner.guidance.fitting` tries them). ``pixels``, the encoder's input (an array, or a function of
        the row that loads it), lets the pixel rules and the person detector run; without it every image is taken
        for a photo and no detector runs."""
        beam_size, length_penalty = self.search_settings(beam_size, length_penalty)
        if self.guidance is None or not guided:
            found = beam_search(self.decoder, features, self.vocab.max_length, beam_size, length_penalty)
            return [CaptionResult(source, [(caption_text(c.ids, self.vocab), c.log_prob) for c in candidates],
                                  scores=[c.score(length_penalty) for c in candidates])
                    for source, candidates in zip(sources, found)]
        guidance = self.guidance
        config = config or guidance.config
        seen = guidance.recognise(features)  # once: the tags, bans, novelty and confidence all read it
        objects = guidance.top_objects(seen)
        tags = [guidance.choose_tag(o, config.tag_threshold) for o in objects]
        detected = guidance.detect_people(seen, config, pixels)
        asked = guidance.needs_detector(seen, config)  # where a detector ran, if there is one
        results, missing = self._search_naming_tags(features, tags, guidance.banned_words(seen, config, tags, detected),
                                                    beam_size, length_penalty)
        people = guidance.person_probability(seen)
        described = []
        for i, (source, candidates) in enumerate(zip(sources, results)):
            kind = PHOTO if pixels is None else classify(pixels(i) if callable(pixels) else pixels[i],
                                                         float(seen.novelty[i]))
            if not kind.photo:
                described.append(not_a_photo(source, kind, float(seen.novelty[i])))
                continue
            tag, guided_here = tags[i], i in missing
            if tag is not None and candidates and not guidance.names_tag(candidates[0].ids, tag):
                tag = None  # the search could not say it either
            best = candidates[0] if candidates else Candidate([], 0.0)
            evidence = guidance.confidence_inputs(best.log_prob / (len(best.ids) + 1),
                                                  tag.probability if tag else 0.0, guided_here, float(people[i]))
            confidence, certainty, sure_of = guidance.how_sure(evidence, float(seen.novelty[i]), objects[i], config)
            answer = GuidedCaption(
                objects=objects[i], tag=tag, guided=guided_here, person_probability=float(people[i]),
                confidence=confidence, evidence=tuple(map(float, evidence)), tried=tags[i], ids=tuple(best.ids),
                certainty=certainty, novelty=float(seen.novelty[i]), sure_of=sure_of,
                person_detected=bool(detected[i]) if detected is not None and asked[i] else None)
            captions = [(" ".join(guidance.caption_words(c.ids, tag)), c.log_prob) for c in candidates]
            described.append(CaptionResult(source, captions, guidance=answer,
                                           scores=[c.score(length_penalty) for c in candidates]))
        return described

    def _search_naming_tags(self, features: np.ndarray, tags: list, banned: np.ndarray, beam_size: int,
                            length_penalty: float) -> tuple[list[list[Candidate]], list[int]]:
        """Beam search with the bans; then, only for photos whose best caption misses their tag, the constrained
        search that names it (twice the beams). Returns each photo's candidates and the rows searched again."""
        guidance = self.guidance
        results = beam_search(self.decoder, features, self.vocab.max_length, beam_size, length_penalty, banned=banned)
        missing = [i for i, (tag, found) in enumerate(zip(tags, results))
                   if tag is not None and found and not guidance.names_tag(found[0].ids, tag)]
        if missing:
            required = np.zeros((len(missing), len(self.vocab)), bool)
            for row, i in enumerate(missing):
                required[row, list(tags[i].say)] = True
            rows = np.array(missing)
            guided_results = beam_search(self.decoder, features[rows], self.vocab.max_length, beam_size,
                                         length_penalty, banned=banned[rows], required=required)
            for i, found in zip(missing, guided_results):
                results[i] = found
        return results, missing

    def search_settings(self, beam_size: int | None, length_penalty: float | None) -> tuple[int, float]:
        """The given beam width and length penalty, or the model's defaults for those not given."""
        beam_size = self.decoding["beam"] if beam_size is None else beam_size
        length_penalty = self.decoding["length_penalty"] if length_penalty is None else length_penalty
        return beam_size, length_penalty

    def caption_image(self, data: bytes, beam_size: int | None = None, length_penalty: float | None = None,
                      max_pixels: int = MAX_PIXELS) -> CaptionResult:
        """One photo's :class:`CaptionResult`, with where the time went; ImageError for bad bytes."""
        with self._photos_at_once:
            started = time.perf_counter()
            pixels = load_rgb(data, (self.encoder.spec.input_size,) * 2, max_pixels, min_side=MIN_SIDE)
            decoded = time.perf_counter()
            features = self.encoder.encode(pixels[None])
            encoded = time.perf_counter()
            result = self.describe_features(features, ["<bytes>"], beam_size, length_penalty, pixels=pixels[None])[0]
            captioned = time.perf_counter()
            self.read_text([result], features, lambda _: data, max_pixels)
            done = time.perf_counter()
        milliseconds = lambda a, b: round((b - a) * 1000, 1)  # noqa: E731
        result.timing_ms = {"decode_image": milliseconds(started, decoded), "encode": milliseconds(decoded, encoded),
                            "caption": milliseconds(encoded, captioned), "read_text": milliseconds(captioned, done),
                            "total": milliseconds(started, done)}
        return result

    def read_text(self, results: list[CaptionResult], features: np.ndarray, source, max_pixels: int = MAX_PIXELS,
                  ) -> None:
        """Read the text of each image the gate sends to the reader into its result's ``text``; ``source(i)`` is
        the bytes or path of the i-th image, decoded again at the reader's size (the encoder's copy is too small
        to read). The others' ``text`` stays None: not looked at. Reading takes the server-wide turn for heavy
        work, so that workers never read (or decode a large image) at the same time."""
        if self.reader is None:
            return
        wanted = np.ones(len(results), bool)
        if self.text_gate is not None:
            photo = np.array([r.guidance is None or r.guidance.kind.photo for r in results])
            classes = (self.guidance.recogniser.class_probabilities(features) if self.guidance is not None
                       else np.zeros((len(results), 1000), np.float32))
            wanted = self.text_gate.should_read(features, classes, photo)
        for i in np.flatnonzero(wanted):
            if results[i].error is not None:
                continue
            try:
                pixels, scale = load_for_reading(source(i), READING_SIDE, max_pixels)
                with heavy_work():
                    lines = self.reader.read(pixels, self.text_min_confidence)
            except CaptionerError:  # it decoded once for the caption; the caption stands without its text
                continue
            results[i].text = FoundText.of(pixels, lines, scale)  # boxes in the upload's pixels

    def explain_image(self, data: bytes, grid: int = DEFAULT_GRID, beam_size: int | None = None,
                      max_pixels: int = MAX_PIXELS) -> dict:
        """The caption and, for each of its words, an occlusion map over a ``grid x grid`` of the photo."""
        with self._photos_at_once:
            started = time.perf_counter()
            pixels = load_rgb(data, (self.encoder.spec.input_size,) * 2, max_pixels, min_side=MIN_SIDE)
            features = self.encoder.encode(pixels[None])
            # The caption the page shows (guided, where the model can be): its words as shown, the decoder's own
            # words (a stand-in where the shown word is one it never learned) to score. What is not a photo was
            # described without the decoder, so no word of it came from a place in the image.
            result = self.describe_features(features, ["<bytes>"], beam_size, pixels=pixels[None])[0]
            photo = result.guidance is None or result.guidance.kind.photo
            words = result.caption.split() if result.caption and photo else []
            ids = list(result.guidance.ids) if result.guidance is not None else self.vocab.encode(words)[1:-1]
            explanation = explain(self.encoder, self.decoder, pixels, features, ids, words, grid)
        return {
            "caption": " ".join(words),
            "words": words,
            "grid": grid,
            "heatmaps": np.round(explanation.heatmaps, 3).tolist(),
            "log_probs": np.round(explanation.log_probs, 4).tolist(),
            "timing_ms": {"total": round((time.perf_counter() - started) * 1000, 1)},
        }

    def caption_sources(
        self, sources: Sequence[str | Path | bytes], batch_size: int = 32, beam_size: int | None = None
    ) -> Iterable[CaptionResult]:
        """Caption paths or bytes in batches; an unreadable one gets an error, the rest still a caption.

        The next batch's photos are decoded while this one is encoded and captioned.
        """
        size = (self.encoder.spec.input_size,) * 2
        for good, pixels, errors in load_in_batches(sources, size, batch_size, min_side=MIN_SIDE):
            results = {i: CaptionResult(_label(sources[i]), error=error) for i, error in errors.items()}
            if good:
                features = self.encoder.encode(pixels)
                described = self.describe_features(features, [_label(sources[i]) for i in good], beam_size,
                                                   pixels=pixels)
                self.read_text(described, features, lambda row: sources[good[row]])
                results.update(zip(good, described))
            yield from (results[i] for i in sorted(results))  # the batch, in the order given


PHOTO = ImageKind("photo")


def not_a_photo(source: str, kind: ImageKind, novelty: float) -> CaptionResult:
    """The answer for an image that is not a photo: what can truly be said of it, with certainty; for a graphic,
    nothing but that it is not a photo, and that a person must describe it."""
    if kind.description:
        answer = GuidedCaption(confidence=1.0, certainty="confident", novelty=novelty, kind=kind)
        return CaptionResult(source, [(kind.description, 0.0)], guidance=answer, scores=[0.0])
    answer = GuidedCaption(confidence=0.0, certainty="unsure", novelty=novelty, kind=kind)
    return CaptionResult(source, [("an image that does not look like a photo", 0.0)], guidance=answer, scores=[0.0])


def _label(source: str | Path | bytes) -> str:
    return "<bytes>" if isinstance(source, bytes) else str(source)

# --- Where did it look? Word-by-word occlusion maps ------------------------------------------------------------
# A merge captioner sees the photo only as one feature vector, so gradients through the decoder say little about
# places in the photo. Occlusion asks the photo directly: cover one cell of a grid with the photo's mean colour,
# encode the covered photo, and see how much each word of the caption loses in log-probability. The cells whose
# covering costs a word most are where that word came from.
#
# The covered photos go through the encoder one at a time, each made just before it is encoded, so an explanation
# needs no more memory than a caption: ONNX Runtime's memory arena keeps the largest batch it has run, and the 145
# copies of a 12 x 12 grid sent as one batch left a server's worker at 2.0 GB (one at a time: +28 MB and 1.1x the
# time of batches of 8, which keep +180 MB; docs/operations.md). The caption is then read once for all of them by
# the NumPy decoder, teacher-forced: one decoder step per word, every covered photo a row of the batch.


@dataclass
class Explanation:
    words: list[str]
    heatmaps: np.ndarray  # (words, grid, grid), each word's map scaled to [0, 1]
    log_probs: np.ndarray  # (words,) each word's log-probability given the whole photo


def occluded_copies(pixels: np.ndarray, grid: int) -> Iterator[np.ndarray]:
    """``grid * grid`` copies of ``pixels`` (H, W, 3), each with one cell covered by the mean colour, made
    one at a time (row by row)."""
    height, width = pixels.shape[:2]
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    mean = pixels.reshape(-1, 3).mean(axis=0).round().astype(pixels.dtype)
    for i in range(grid):
        for j in range(grid):
            copy = pixels.copy()
            copy[rows[i]:rows[i + 1], cols[j]:cols[j + 1]] = mean
            yield copy


def occluded_features(encoder, pixels: np.ndarray, grid: int) -> np.ndarray:
    """``(grid * grid, feature_size)``: the features of each covered copy, encoded one by one (see above)."""
    return np.concatenate([encoder.encode(copy[None]) for copy in occluded_copies(pixels, grid)])


def word_log_probs(stepper, features: np.ndarray, ids: list[int]) -> np.ndarray:
    """``(rows, words)``: log p(word_t | image, words before it), the caption read teacher-forced."""
    state = stepper.start(features)
    inputs = [START_ID] + ids[:-1]
    out = np.empty((len(features), len(ids)))
    for t, (given, target) in enumerate(zip(inputs, ids)):
        log_probs, state = stepper.step(state, np.full(len(features), given))
        out[:, t] = log_probs[:, target]
    return out


def explain(encoder, stepper, pixels: np.ndarray, features: np.ndarray, ids: list[int], words: list[str],
            grid: int = DEFAULT_GRID) -> Explanation:
    """Occlusion maps for the caption ``ids`` (word ids, no ``<start>``/``<end>``) of ``pixels``, whose
    own features ``(1, feature_size)`` the caller has already encoded."""
    batch = np.concatenate([features, occluded_features(encoder, pixels, grid)])
    scores = word_log_probs(stepper, batch, ids)
    # How much each word loses when a cell is covered; a cell that helps a word (a gain) is not "where
    # it looked", so losses only.
    loss = np.maximum(scores[0][None, :] - scores[1:], 0.0)  # (cells, words)
    peak = loss.max(axis=0, keepdims=True)
    maps = np.divide(loss, peak, out=np.zeros_like(loss), where=peak > 0)
    return Explanation(words, maps.T.reshape(len(ids), grid, grid), scores[0])

"""This project's serving against the seed projects' way of serving, side by side over HTTP.

    .venv/bin/python -m benchmarks.bench_serving [--requests 100] [--baseline-requests 20]

(a) This project: gunicorn + the app with the shipped model (ONNX encoder, NumPy decoder), greedy,
    beam 3, and the search its model card records (the app's default); greedy and beam 3 both with the
    photo in a multipart form, as a browser sends it, and as the request's body (``Content-Type: image/jpeg``). The five take turns
    request by request, so that the machine's slow spells (this shared 2-core machine has them) fall on all alike.
(b) The baseline, as the seed projects serve: a Flask app with InceptionV3 (299x299) in TensorFlow,
    then one ``model.predict`` per generated word, each re-reading the whole padded prefix of a classic
    merge model. Its weights are random (timing only), so its captions are stopped at 12 words, the
    length the seed projects' ~730 ms figure was measured at.

Both get the same full-size photos from ../shared/photos. Prints p50 and p95 latency, the ratio, the
resident memory of our worker after the requests, and the CLI's batch throughput on Flickr8k photos.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import requests

from captioner.data import REPO_ROOT, default_data_root
from captioner.model_folder import load_card

BASELINE_WORDS = 12


def baseline_app():
    """The seed projects' serving path, with random weights."""
    import io

    import keras
    import numpy as np
    from flask import Flask, jsonify, request
    from keras import layers
    from PIL import Image

    vocab_size, max_length = 2529, 37
    cnn = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg")
    image = keras.Input((2048,))
    prefix = keras.Input((max_length,))
    x = layers.Dense(256, activation="relu")(layers.Dropout(0.5)(image))
    words = layers.LSTM(256)(layers.Dropout(0.5)(layers.Embedding(vocab_size, 256, mask_zero=True)(prefix)))
    merged = layers.Dense(256, activation="relu")(layers.Add()([x, words]))
    decoder = keras.Model([image, prefix], layers.Dense(vocab_size, activation="softmax")(merged))
    app = Flask("baseline")

    @app.post("/api/caption")
    def caption():
        photo = Image.open(io.BytesIO(request.files["image"].read())).convert("RGB").resize((299, 299))
        pixels = np.asarray(photo, dtype=np.float32)[None] / 127.5 - 1.0
        features = cnn.predict(pixels, verbose=0)
        sequence = [2]
        for _ in range(BASELINE_WORDS):
            padded = np.zeros((1, max_length))
            padded[0, : len(sequence)] = sequence
            sequence.append(int(np.argmax(decoder.predict([features, padded], verbose=0))))
        return jsonify(caption=" ".join(map(str, sequence[1:])))

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    return app


def time_requests(url: str, photos: list[bytes], count: int, beam: int | None = None,
                  as_body: bool = False) -> list[float]:
    """Milliseconds per request, each photo sent in a multipart form (as a browser does) or as the body."""
    return time_interleaved(url, photos, count, {"": (beam, as_body)})[""]


def time_interleaved(url: str, photos: list[bytes], count: int,
                     variants: dict[str, tuple[int | None, bool]]) -> dict[str, list[float]]:
    """``count`` requests per variant (name: (beam, photo as the body)), taking turns, so that a slow spell
    of the machine slows them all alike."""
    times = {name: [] for name in variants}
    for i in range(count):
        photo = photos[i % len(photos)]
        for name, (beam, as_body) in variants.items():
            options = {"beam": str(beam)} if beam else {}
            started = time.perf_counter()
            if as_body:
                response = requests.post(f"{url}/api/caption", data=photo, params=options,
                                         headers={"Content-Type": "image/jpeg"}, timeout=120)
            else:
                response = requests.post(f"{url}/api/caption", files={"image": ("p.jpg", photo)}, data=options,
                                         timeout=120)
            times[name].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--baseline-requests", type=int, default=20)
    parser.add_argument("--cli-images", type=int, default=200)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        baseline_app().run(host="127.0.0.1", port=args.serve_baseline)
        return

    from harness.servers import children, free_port, procfile_command, rss_mb, start_server, stop_server

    photos = [p.read_bytes() for p in sorted((REPO_ROOT.parent / "shared" / "photos").glob("*.jpg"))]
    ours_port, base_port = free_port(), free_port()
    server = start_server(procfile_command(ours_port), {}, ours_port)
    try:
        url = f"http://127.0.0.1:{ours_port}"
        time_requests(url, photos, 5)  # warm
        ours = time_interleaved(url, photos, args.requests, {
            "greedy": (1, False), "greedy, photo as the body": (1, True),
            "beam 3": (3, False), "beam 3, photo as the body": (3, True),
            "the card's search": (None, False),
        })
        worker_rss = sum(rss_mb(w) for w in children(server.pid))
    finally:
        stop_server(server)
    # The seed projects never limited OpenBLAS's threads (this package does, on import): give the baseline
    # OpenBLAS's own default, one per core.
    baseline_env = {"OPENBLAS_NUM_THREADS": str(os.cpu_count())}
    base = start_server([sys.executable, "-m", "benchmarks.bench_serving", "--serve-baseline", str(base_port)], baseline_env, base_port,
                        timeout=180)
    try:
        url = f"http://127.0.0.1:{base_port}"
        time_requests(url, photos, 2)  # warm
        baseline = time_requests(url, photos, args.baseline_requests)
        baseline_rss = rss_mb(base.pid)
    finally:
        stop_server(base)

    print(f"{'server':<52} {'p50 ms':>8} {'p95 ms':>8}")
    decoding = load_card(REPO_ROOT / "model", verify=False)["decoding"]
    labels = {"the card's search": f"beam {decoding['beam']}, penalty {decoding['length_penalty']} (the default)"}
    rows = [(f"this project, {labels.get(name, name)}", times) for name, times in ours.items()]
    rows.append((f"baseline: InceptionV3 + per-word predict ({BASELINE_WORDS} words)", baseline))
    for label, times in rows:
        print(f"{label:<52} {statistics.median(times):>8.1f} {statistics.quantiles(times, n=20)[-1]:>8.1f}")
    ratios = ", ".join(f"{name} {statistics.median(baseline) / statistics.median(ours[name]):.0f}x"
                       for name in ("greedy", "greedy, photo as the body", "beam 3", "beam 3, photo as the body"))
    print(f"baseline / this project (p50): {ratios}")
    print(f"resident memory after {len(ours) * args.requests + 5} requests: this project's worker {worker_rss:.0f} MB, "
          f"baseline {baseline_rss:.0f} MB")

    images = sorted((default_data_root() / "Images").glob("*.jpg"))[: args.cli_images]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "captioner", "caption", "--beam", "1", *map(str, images)], cwd=REPO_ROOT,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    print(f"CLI batch captioning, greedy: {len(images)} images in {seconds:.1f} s = {len(images) / seconds:.0f} images/s "
          "(start-up included)")


if __name__ == "__main__":
    main()

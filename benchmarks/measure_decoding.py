"""Decoding time per photo: the shipped decoders stacked in one NumPy decoder, against one loop per decoder.

    .venv/bin/python -m benchmarks.measure_decoding [--model model] [--rounds 3]

Both run in this process, on the same features of the full-size photos in ../shared/photos, greedy and
with beam search. The encoder runs on a photo before each decode, as in a request, so the decoders'
weights are read back from memory rather than found warm in the cache.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from captioner.data import REPO_ROOT  # the package first: it limits NumPy's threads as serving does
from captioner.decode import EnsembleStepper, NumpyMergeDecoder, beam_search
from captioner.images import load_rgb
from captioner.model_folder import decoder_weight_files
from captioner.serving import Captioner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the photos per setting")
    args = parser.parse_args()

    served = Captioner(args.model)
    size = (served.encoder.spec.input_size,) * 2
    pixels = [load_rgb(p, size)[None] for p in sorted((REPO_ROOT.parent / "shared" / "photos").glob("*.jpg"))]
    features = [served.encoder.encode(p) for p in pixels]
    steppers = {
        "one loop per decoder": EnsembleStepper([NumpyMergeDecoder.from_file(args.model / name)
                                                 for name in decoder_weight_files(served.card)]),
        "decoders stacked (served)": served.decoder,
    }
    default = served.decoding
    searches = [(1, 0.0), (3, 0.0), (default["beam"], default["length_penalty"])]
    print(f"{served.decoder.members} decoder(s); median ms per photo over {args.rounds * len(pixels)} decodes")
    print(f"{'':<28}" + "".join(f"{f'beam {b}, penalty {lp}':>22}" for b, lp in searches))
    medians = {}
    for name, stepper in steppers.items():
        medians[name] = [median_ms(served, stepper, pixels, features, b, lp, args.rounds) for b, lp in searches]
        print(f"{name:<28}" + "".join(f"{ms:>22.2f}" for ms in medians[name]))
    loop, stacked = medians.values()
    print(f"{'speed-up':<28}" + "".join(f"{a / b:>21.2f}x" for a, b in zip(loop, stacked)))


def median_ms(served: Captioner, stepper, pixels, features, beam: int, penalty: float, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        for photo, photo_features in zip(pixels, features):
            served.encoder.encode(photo)  # what a request does just before decoding
            started = time.perf_counter()
            beam_search(stepper, photo_features, served.vocab.max_length, beam, penalty)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()

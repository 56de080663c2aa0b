"""Score an ensemble of trained decoders that share one encoder: their next-word probabilities averaged.

    .venv/bin/python -m experiments.eval_ensemble runs/A runs/B [...] --split dev --beam 3 --penalty 0
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from captioner import CaptionerError
from captioner.decode import NumpyMergeDecoder
from captioner.evaluate import evaluate_model, format_scores
from captioner.model_folder import decoder_weight_files
from captioner.serving import Captioner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--penalty", type=float, default=0.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    members = [Captioner(m) for m in args.models]
    if len({m.encoder_name for m in members}) != 1 or len({tuple(m.vocab.words) for m in members}) != 1:
        raise CaptionerError("ensemble members must share the encoder and the vocabulary")
    ensemble = members[0]
    ensemble.decoder = NumpyMergeDecoder.from_files(
        [model / name for model, member in zip(args.models, members) for name in decoder_weight_files(member.card)])
    result = evaluate_model(args.models[0], None, args.split, args.beam, args.penalty, captioner=ensemble)
    print(f"ensemble of {len(members)} {args.split} beam {args.beam} penalty {args.penalty}: {format_scores(result)}")


if __name__ == "__main__":
    main()

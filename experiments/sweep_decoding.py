"""Score one trained model on a split under several decoding settings (beam width x length penalty).

    .venv/bin/python -m experiments.sweep_decoding runs/NAME --split dev --beams 1 3 5 --penalties 0 0.5 1

The model, its encoder and the cached features load once; each setting decodes the whole split and is
scored with the coco-caption toolkit. Choose settings on the dev split, report on test.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from captioner.evaluate import evaluate_model, format_scores
from captioner.serving import Captioner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--penalties", type=float, nargs="+", default=[0.0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path, help="append one JSON line per setting here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    captioner = Captioner(args.model)
    for beam in args.beams:
        for penalty in args.penalties if beam > 1 else [0.0]:
            result = evaluate_model(args.model, args.data, args.split, beam, penalty, captioner=captioner)
            print(f"{args.model.name} {args.split} beam {beam} penalty {penalty}: {format_scores(result)}", flush=True)
            if args.out:
                with open(args.out, "a") as out:
                    summary = {k: v for k, v in result.items() if k != "per_image"}
                    out.write(json.dumps({"model": args.model.name, **summary, "samples": result["samples"][:3]}) + "\n")


if __name__ == "__main__":
    main()

"""Experiment: distil the shipped ensemble's decoders into one decoder (one-third of the decoding time).

    .venv/bin/python -m experiments.distil_experiment [--teachers model] [--out runs/distil_scratch_w08]
        [--teacher-weight 0.8] [--learning-rate 1e-3] [--epochs 20] [--batch-size 64] [--teacher-count N]

The teachers' averaged next-word distributions (top 16 words) at every prefix of every training caption
become part of the target (``--teacher-weight``); the rest is the caption's own word. The student is a
decoder of the same size, trained from scratch (``captioner.train.pipeline.distil``, as ``train --distil`` does) on
the cached features (``python -m captioner features``), from teachers already trained and saved. It is scored on dev with beam 3 and with the card's search, to compare
with the ensemble and with one member (README, "Experiments"). Nothing here ships.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

from captioner.data import load_captions, split_images
from captioner.evaluate import evaluate_model, format_scores
from captioner.features import load_cached
from captioner.model_folder import write_card
from captioner.text import tokenize
from captioner.train.distillation import student_config
from captioner.train.model import ModelConfig, load_model, save_model
from captioner.train.pipeline import distil
from captioner.train.training import TrainConfig, caption_examples, model_card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=Path, default=Path("model"))
    parser.add_argument("--out", type=Path, default=Path("runs/distil_scratch_w08"))
    parser.add_argument("--teacher-weight", type=float, default=0.8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--teacher-count", type=int, help="only the first N of the model's decoders teach")
    args = parser.parse_args()

    teachers = load_model(args.teachers)
    data = load_captions(None)
    tokenized = tokenize(data.captions)
    features = load_cached(teachers.encoder_name)
    train = caption_examples(split_images(data, "train"), features, tokenized, teachers.vocab)
    dev = caption_examples(split_images(data, "dev"), features, tokenized, teachers.vocab)

    recipe = TrainConfig(**{k: v for k, v in teachers.card["training"].items() if k in TrainConfig.__dataclass_fields__})
    config = dataclasses.replace(student_config(recipe, args.teacher_weight, args.epochs),
                                 batch_size=args.batch_size, learning_rate=args.learning_rate, seed=8)
    model_config = ModelConfig(**teachers.card["architecture"])
    student, history, took = distil(teachers.networks[: args.teacher_count], train, dev, len(teachers.vocab), train.features.shape[1],
                                    model_config, config, args.out / "checkpoints", verbose=2)
    print(f"student trained in {took / 60:.1f} min ({len(history['loss'])} epochs)", flush=True)

    card = model_card(
        encoder=teachers.card["encoder"], vocab=teachers.vocab, model_config=model_config,
        train_config=config, data=teachers.card["data"], histories=[history], seeds=[8],
        training_seconds=[took], decoding=teachers.card.get("decoding"),
    )
    save_model([student], teachers.vocab, card, args.out)
    shutil.copy(args.teachers / "encoder.onnx", args.out / "encoder.onnx")
    shutil.rmtree(args.out / "checkpoints")
    write_card(args.out, card)  # again, with the encoder's digest, and without the checkpoints
    for beam, penalty in ((3, 0.0), (4, 0.85)):
        result = evaluate_model(args.out, None, "dev", beam_size=beam, length_penalty=penalty)
        print(f"student (teacher weight {args.teacher_weight}), dev, beam {beam} penalty {penalty}: "
              f"{format_scores(result)}", flush=True)


if __name__ == "__main__":
    main()

"""``python -m captioner``: features, train, evaluate and caption from the command line.

Each subcommand parses its options and calls the package; none has logic of its own. A user error
(bad path, bad image, bad option) prints one ``error: ...`` line and exits non-zero; warnings print
as one ``warning: ...`` line each.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import CaptionerError, __version__
from .data import REPO_ROOT, default_data_root
from .encoders import ENCODERS
from .train.recipes import DEFAULT, RECIPES, SHIPPED, fields
from .train.self_critical import SelfCriticalConfig

DEFAULT_MODEL_DIR = REPO_ROOT / "model"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args) or 0
    except CaptionerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m captioner", description="Describe photos in a sentence.")
    parser.add_argument("--version", action="version", version=f"captioner {__version__}")
    commands = parser.add_subparsers(title="subcommands", required=True, metavar="COMMAND")

    features = commands.add_parser("features", help="extract and cache image features for a data set")
    _data_options(features)
    features.add_argument("--encoder", default=SHIPPED.encoder, choices=sorted(ENCODERS),
                          help=f"image encoder (default: the shipped model's, {SHIPPED.encoder})")
    features.add_argument("--split", action="append", choices=("train", "dev", "test"),
                          help="only these splits (repeatable; default: every captioned image)")
    features.add_argument("--limit", type=_positive_int, help="at most this many images per split")
    features.add_argument("--batch-size", type=_positive_int, default=32)
    features.set_defaults(run=run_features)

    train = commands.add_parser("train", help="train a merge captioner and save it as JSON + HDF5",
                                description="Train what a recipe (captioner/train/recipes.py) describes; each option "
                                            "given overrides that field of the recipe.")
    _data_options(train)
    train.add_argument("--recipe", default="default", choices=sorted(RECIPES),
                       help="shipped: how model/ was made (~35 min); quick: a one-minute smoke run; held_out: the "
                            "novel-object decoder; default: the dataclasses' defaults, shown below")
    train.add_argument("--out", type=Path, help="model folder to write (default: a new folder runs/RECIPE-TIME; "
                                                "never model/ unless named)")
    train.add_argument("--dev-limit", type=_positive_int, help="stop early on the first N dev images only")
    _recipe_options(train)
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("evaluate", help="caption a split and score it against its references")
    _data_options(evaluate)
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    evaluate.add_argument("--split", default="test", choices=("train", "dev", "test"))
    evaluate.add_argument("--beam", type=_positive_int, help="beam width (1 = greedy; default: the model card's)")
    evaluate.add_argument("--length-penalty", type=float,
                          help="rank candidates by log-probability / length**P (default: the model card's)")
    evaluate.add_argument("--limit", type=_positive_int, help="only the first N images of the split")
    evaluate.add_argument("--out", type=Path, help="write the scores as JSON here")
    evaluate.add_argument("--record", metavar="NAME", help="also store the scores in the model card as metrics.NAME")
    evaluate.add_argument("--unguided", action="store_true",
                          help="plain beam search: no tags named, no person words banned")
    evaluate.set_defaults(run=run_evaluate)

    guide = commands.add_parser("guide", help="fit the concept probes and the novelty index (train split) and choose "
                                              "guided decoding's thresholds and confidence calibration (dev split)")
    _data_options(guide)
    guide.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    guide.add_argument("--out", type=Path, help="write the dev figures behind each choice as JSON here")
    guide.add_argument("--no-probe", nargs="+", default=[], metavar="CONCEPT",
                       help="fit no probe for these concepts: they are named only where the ImageNet layer sees them "
                            "(the novel-object experiment without any Flickr8k label of them)")
    guide.set_defaults(run=run_guide)

    pseudo = commands.add_parser("pseudo-captions", help="caption the train photos named by held-out concepts from "
                                 "their labels alone, for training on (PS-NOC; captioner/guidance/pseudo_captions.py)")
    _data_options(pseudo)
    pseudo.add_argument("--model", type=Path, required=True, help="a held-out model folder, guided (guide --model)")
    pseudo.add_argument("--out", type=Path, required=True, help="the captions file to write (photo#i<TAB>caption)")
    pseudo.add_argument("--per-label", type=_positive_int,
                        help="captions per photo and label (default: CAPTIONS_PER_LABEL of "
                             "captioner/guidance/pseudo_captions.py)")
    pseudo.set_defaults(run=run_pseudo_captions)

    critical = commands.add_parser("self-critical", help="fine-tune a trained model's decoders on CIDEr-D (self-critical "
                                   "sequence training) into a new folder; then run guide on it")
    _data_options(critical)
    critical.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: model/)")
    critical.add_argument("--out", type=Path, required=True, help="the new model folder to write")
    critical.add_argument("--epochs", type=_positive_int, default=SelfCriticalConfig.epochs,
                          help="at most; each decoder keeps its best dev epoch (default: %(default)s)")
    critical.add_argument("--learning-rate", type=float, default=SelfCriticalConfig.learning_rate,
                          help="default: %(default)s")
    critical.add_argument("--mix", type=float, default=SHIPPED.self_critical_mix,
                          help="save this share of the way from the starting weights to the fine-tuned ones, 0-1 "
                               "(WiSE-FT; default: the shipped recipe's, %(default)s)")
    critical.set_defaults(run=run_self_critical)

    export = commands.add_parser("export", help="write the ONNX encoder the lean runtime serves, checked against Keras")
    export.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: model/)")
    export.add_argument("--photos", type=Path, nargs="*", default=[], help="photos to check parity on")
    export.set_defaults(run=run_export)

    caption = commands.add_parser(
        "caption", help="caption photos: prints IMAGE<TAB>caption per line, or writes them to --out (resumable)")
    caption.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    caption.add_argument("--recursive", "-r", action="store_true", help="caption the image files in folders, at any depth")
    caption.add_argument("--out", type=str, help="write rows to this .csv or .jsonl file (with --engine ray: a folder "
                         "or URI of Parquet files); run again to resume")
    caption.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: model/)")
    caption.add_argument("--batch-size", type=_positive_int, default=32)
    caption.add_argument("--beam", type=_positive_int, help="beam width (1 = greedy; default: the model card's)")
    caption.add_argument("--engine", choices=("local", "ray"), default="local",
                         help="local: this process; ray: a Ray cluster (IMAGE_OR_FOLDER may be an s3:// or gs:// URI)")
    caption.add_argument("--address", help="with --engine ray: the cluster to join (default: $RAY_ADDRESS, else a "
                         "local Ray started for this run)")
    caption.add_argument("--workers", type=_positive_int, help="with --engine ray: captioning actors (default: one "
                         "per CPU of the cluster)")
    caption.add_argument("--out-format", choices=("parquet", "csv", "jsonl"), default="parquet",
                         help="with --engine ray: the files written to --out")
    caption.set_defaults(run=run_caption)
    return parser


def run_features(args) -> int:
    from .data import load_captions, split_images
    from .features import extract_features
    from .train.keras_encoders import build_encoder

    data = load_captions(args.data)
    if args.split:
        names = [name for split in args.split for name in split_images(data, split, args.limit)]
    else:
        names = sorted(data.captions)[: args.limit]
    encoder = build_encoder(args.encoder)
    features = extract_features(
        encoder, {n: data.image_path(n) for n in dict.fromkeys(names)}, args.cache, args.batch_size
    )
    print(f"{len(features)} image(s) have {args.encoder} features in {_cache_dir(args) / args.encoder}")
    return 0


def run_train(args) -> int:
    import datetime

    from .train.pipeline import train_captioner
    from .train.recipes import describe, get_recipe, override

    given = {name: getattr(args, name) for name in fields(DEFAULT)}
    recipe = override(get_recipe(args.recipe), **given)
    check_recipe(recipe)
    out = args.out or Path("runs") / f"{args.recipe}-{datetime.datetime.now():%Y%m%d-%H%M%S}"  # never model/
    print(f"recipe {args.recipe}{' with overrides' if any(v is not None for v in given.values()) else ''}: "
          f"{describe(recipe)} -> {out}")
    run = train_captioner(recipe, out, args.data, dev_limit=args.dev_limit, cache_dir=args.cache,
                          # One line per epoch when the output is a log, a live bar when it is a terminal.
                          verbose=1 if sys.stdout.isatty() else 2)
    for member in run.model.card["training"]["members"]:
        taught = f"taught by {len(run.model.card['training']['teachers'])} decoders, " if recipe.distil else ""
        print(f"saved {out / member['weights']} ({taught}seed {member['seed']}): best dev loss "
              f"{member['best_dev_loss']:.3f} at epoch {member['best_epoch']}")
    return 0


def run_self_critical(args) -> int:
    from .train.pipeline import self_critical_model

    if args.learning_rate <= 0:
        raise CaptionerError(f"--learning-rate must be positive, got {args.learning_rate}")
    if not 0 <= args.mix <= 1:
        raise CaptionerError(f"--mix must be in [0, 1], got {args.mix}")
    model = self_critical_model(args.model, args.out, args.data,
                                SelfCriticalConfig(args.epochs, args.learning_rate, mix=args.mix), args.cache,
                                verbose=1 if sys.stdout.isatty() else 2)
    for number, member in enumerate(model.card["training"]["self_critical"]["members"], start=1):
        print(f"decoder {number}: dev CIDEr-D {member['dev_cider_d_before']:.3f} -> {member['dev_cider_d']:.3f} "
              f"(epoch {member['kept_epoch']} kept)")
    print(f"saved {args.out}; next: python -m captioner guide --model {args.out}")
    return 0


def check_recipe(recipe) -> None:
    """Values no training can use, named by their option."""
    if not 0 <= recipe.model.dropout < 1:
        raise CaptionerError(f"--dropout must be in [0, 1), got {recipe.model.dropout}")
    if not 0 <= recipe.train.label_smoothing < 1:
        raise CaptionerError(f"--label-smoothing must be in [0, 1), got {recipe.train.label_smoothing}")
    if recipe.train.learning_rate <= 0:
        raise CaptionerError(f"--learning-rate must be positive, got {recipe.train.learning_rate}")
    if recipe.self_critical_epochs < 0:
        raise CaptionerError(f"--self-critical-epochs must be 0 or more, got {recipe.self_critical_epochs}")
    if recipe.self_critical_learning_rate <= 0:
        raise CaptionerError(f"--self-critical-learning-rate must be positive, got {recipe.self_critical_learning_rate}")
    if not 0 <= recipe.self_critical_mix <= 1:
        raise CaptionerError(f"--self-critical-mix must be in [0, 1], got {recipe.self_critical_mix}")
    if recipe.distil is not None and not 0 < recipe.distil <= 1:
        raise CaptionerError(f"--distil must be in (0, 1], got {recipe.distil}")


def run_evaluate(args) -> int:
    import json

    from .evaluate import evaluate_model, format_scores, record_metrics
    from .io import write_atomically

    result = evaluate_model(args.model, args.data, args.split, args.beam, args.length_penalty, args.limit, args.cache,
                            guided=not args.unguided)
    print(f"{result['split']} split, {result['images']} images, beam {result['beam']}, length penalty "
          f"{result['length_penalty']}, {result['encoder']}:")
    print(format_scores(result))
    if args.out:
        write_atomically(args.out, json.dumps(result, indent=2).encode())
        print(f"wrote {args.out}")
    if args.record:
        record_metrics(args.model, args.record, result)
        print(f"recorded in {args.model / 'model_card.json'} as metrics.{args.record}")
    return 0


def run_guide(args) -> int:
    import json

    from .guidance.concepts import OBJECT_GROUPS
    from .guidance.fitting import choose_guidance, fit_novelty, fit_probes
    from .io import write_atomically

    unknown = sorted(set(args.no_probe) - set(OBJECT_GROUPS) | ({"person"} & set(args.no_probe)))
    if unknown:
        raise CaptionerError(f"--no-probe: cannot leave out {', '.join(unknown)} (choose from: "
                             f"{', '.join(c for c in OBJECT_GROUPS if c != 'person')})")
    recogniser = fit_probes(args.model, args.data, args.cache,
                               concepts=[c for c in OBJECT_GROUPS if c not in args.no_probe])
    print(f"wrote {args.model / 'objects.npz'}: the ImageNet classifier and {len(recogniser.concepts)} concept probes")
    novelty = fit_novelty(args.model, args.data, args.cache)
    print(f"wrote {args.model / 'novelty.npz'}: the training photos' feature statistics ({novelty.feature_size} "
          f"features), scaled by {len(novelty.dev_distances)} dev photos")
    chosen = choose_guidance(args.model, args.data, args.cache)
    guidance = chosen["guidance"]
    print(f"chosen on dev: tag threshold {guidance['tag_threshold']}, person threshold {guidance['person_threshold']}, "
          f"confidence calibration ECE {chosen['reliability']['ece']:.3f} (cross-validated)")
    chair_s = {r["object_word_threshold"]: r["chair_s"] for r in chosen["object_word_thresholds"]}
    print(f"a probed thing's words said where it is at least {guidance['object_word_threshold']} probable "
          f"(dev CHAIR-s {chair_s[0.0]} without that ban, {chair_s[guidance['object_word_threshold']]} with it)")
    if guidance["pseudo_concepts"]:
        print(f"words learned from pseudo-captions ({', '.join(guidance['pseudo_concepts'])}) said where their probe "
              f"gives at least {guidance['pseudo_word_threshold']}")
    if args.out:
        write_atomically(args.out, json.dumps(chosen, indent=2).encode())
        print(f"wrote {args.out}")
    return 0


def run_pseudo_captions(args) -> int:
    from .data import load_captions
    from .guidance.pseudo_captions import (CAPTIONS_PER_LABEL, label_only_photos, make_pseudo_captions,
                                           write_pseudo_captions)
    from .serving import Captioner

    if args.out.resolve().parent == args.model.resolve():
        # The card checksums every file in its folder, so a file written there later reads as damage.
        raise CaptionerError(f"write the pseudo-captions outside the model folder {args.model} (its card checksums "
                             f"every file in it), e.g. --out {args.model.parent / (args.model.name + '_pseudo_captions.txt')}")
    captioner = Captioner(args.model)
    held = captioner.card["data"].get("held_out_concepts")
    if not held:
        raise CaptionerError(f"{args.model} held out no concepts (train it with --hold-out or --recipe held_out)")
    data = load_captions(args.data)
    labels = label_only_photos(data, held)
    captions = make_pseudo_captions(captioner, data, labels, args.per_label or CAPTIONS_PER_LABEL, args.cache)
    write_pseudo_captions(args.out, captions)
    print(f"wrote {args.out}: {sum(map(len, captions.values()))} captions for {len(captions)} of the {len(labels)} "
          f"train photos named by {', '.join(held)}")
    return 0


def run_export(args) -> int:
    import numpy as np

    from .images import load_rgb
    from .model_folder import load_card, write_card
    from .train.export import export_onnx_encoder
    from .train.keras_encoders import load_encoder

    card = load_card(args.model)
    encoder = load_encoder(args.model, card["encoder"]["name"])
    size = (encoder.spec.input_size,) * 2
    photos = np.stack([load_rgb(p, size) for p in args.photos]) if args.photos else None
    path = export_onnx_encoder(encoder, args.model, photos)
    write_card(args.model, card)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB), features within 1e-4 of Keras")
    return 0


def run_caption(args) -> int:
    if args.engine == "ray":
        return run_caption_on_ray(args)
    from .alttext import CaptionFile, caption_library, find_images
    from .serving import Captioner

    images = find_images([Path(p) for p in args.images], args.recursive)
    out = Path(args.out) if args.out else None
    if out:
        CaptionFile(out)  # a bad file name fails before the model loads
    captioner = Captioner(args.model)
    if out:
        summary = caption_library(captioner, images, out, args.beam, args.batch_size, progress=True)
        print(f"{out}: {summary.captioned} captioned, {summary.unreadable} unreadable (reasons in its "
              f"error column), {summary.already_done} already there")
        return 1 if summary.unreadable else 0
    failures = 0
    for result in captioner.caption_sources([str(p) for p in images], args.batch_size, args.beam):
        if result.error:
            failures += 1
            print(f"error: {result.source}: {result.error}", file=sys.stderr)
        else:
            print(f"{result.source}\t{result.caption}", flush=True)
    return 1 if failures else 0


def run_caption_on_ray(args) -> int:
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # not imported here: caption_on_ray sets Ray's environment first
        raise CaptionerError("--engine ray needs Ray: pip install -r requirements-ray.txt")
    from .alttext_ray import caption_on_ray

    if len(args.images) != 1 or not args.recursive or not args.out:
        raise CaptionerError("--engine ray captions one folder or URI: caption --recursive SOURCE --out DEST")
    summary = caption_on_ray(args.images[0], args.out, args.model, args.workers, args.batch_size, args.beam,
                             args.out_format, args.address)
    print(f"{args.out}: {summary.captioned} captioned, {summary.unreadable} unreadable (reasons in its error "
          f"column), {summary.already_done} already there; {summary.seconds:.1f} s")
    return 1 if summary.unreadable else 0


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=default_data_root(),
                        help="data folder (default: $CAPTIONER_DATA or ../shared/flickr8k)")
    parser.add_argument("--cache", type=Path, help="feature cache folder (default: $CAPTIONER_CACHE or .cache/features)")


def _cache_dir(args) -> Path:
    from .features import default_cache_dir

    return args.cache or default_cache_dir()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=file or sys.stderr)


# train's options: each overrides one field of the recipe (captioner/train/recipes.py), so none has a default of its own.
RECIPE_OPTIONS = (
    ("--encoder", dict(choices=sorted(ENCODERS), help="image encoder")),
    ("--limit", dict(type=_positive_int, help="train on the first N training images only")),
    ("--min-count", dict(type=_positive_int, help="keep words seen this often")),
    ("--epochs", dict(type=_positive_int)),
    ("--batch-size", dict(type=_positive_int)),
    ("--learning-rate", dict(type=float)),
    ("--patience", dict(type=_positive_int, help="epochs without dev improvement before stopping")),
    ("--lr-patience", dict(type=int, help="halve the learning rate after N epochs without dev improvement "
                                          "(0: never)")),
    ("--label-smoothing", dict(type=float)),
    ("--embed-dim", dict(type=_positive_int)),
    ("--units", dict(type=_positive_int)),
    ("--dropout", dict(type=float)),
    ("--seed", dict(dest="seeds", metavar="SEED", type=int, nargs="+",
                 help="one decoder per seed; several make an ensemble")),
    ("--distil", dict(type=float, metavar="WEIGHT",
                      help="make the seeds' decoders teachers of one student decoder, saved alone; WEIGHT (0-1] "
                           "is the teachers' share of its targets (0.8 did best on dev)")),
    ("--student-epochs", dict(type=_positive_int, help="the student's epoch limit (default: --epochs); it uses "
                                                       "no label smoothing")),
    ("--beam", dict(type=_positive_int, help="default beam width to record in the card")),
    ("--length-penalty", dict(type=float, help="default length penalty to record in the card")),
    ("--hold-out", dict(nargs="+", metavar="CONCEPT", help="leave out every photo whose captions name these "
                                                           "concepts (bicycle, boat, ...): the novel-object "
                                                           "experiment")),
    ("--self-critical-epochs", dict(type=int, metavar="N", help="then fine-tune each decoder on CIDEr-D (self-critical "
                                                                "training), keeping its best dev epoch of N")),
    ("--self-critical-learning-rate", dict(type=float)),
    ("--self-critical-mix", dict(type=float, help="save this share of the way from the cross-entropy weights to "
                                                  "the fine-tuned ones (WiSE-FT)")),
    ("--pseudo-captions", dict(metavar="FILE", help="captions made for label-only train photos (pseudo-captions "
                                                    "--out FILE), in place of their real ones")),
)


def _recipe_options(parser: argparse.ArgumentParser) -> None:
    """The recipe's fields as options; their help shows the default recipe's values, which are the dataclasses'."""
    defaults = fields(DEFAULT)
    for flag, options in RECIPE_OPTIONS:
        default = defaults[options.get("dest", flag[2:].replace("-", "_"))]
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = options.get("help", "")
        parser.add_argument(flag, **{**options, "help": f"{help_text}{'; ' if help_text else ''}default recipe: "
                                                        f"{shown if shown not in ('', None) else 'none'}"})

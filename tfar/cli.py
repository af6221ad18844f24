"""The ``tfar`` command line: train, evaluate and sample zoo models; browse the zoo.

    tfar train pixelcnn --data fashion_mnist --epochs 10 --out runs/pixelcnn
    tfar eval runs/pixelcnn
    tfar sample runs/pixelcnn --num 16 --out grid.png
    tfar zoo list | tfar zoo info pixelcnn

A run folder (see :mod:`tfar.training.run`) records everything needed to rebuild
its model, so ``eval`` and ``sample`` take only the folder. Rerunning an
interrupted ``train`` command resumes after the last finished epoch; rerunning it
with a larger ``--epochs`` continues training.

Errors in the arguments (unknown model, bad config value, missing run folder)
print one line and exit with status 2.
"""

import argparse
import json
import math
import os
import sys

EXIT_USAGE = 2


# ----------------------------------------------------------------- helpers
class CommandError(ValueError):
    """A user-facing error: printed without a traceback, exit status 2."""


def _parse_overrides(pairs):
    """["filters=8", "image_shape=[7,7,1]"] -> {"filters": 8, "image_shape": [7, 7, 1]} (JSON values, else strings)."""
    overrides = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--set expects key=value, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[key.strip()] = value
    return overrides


def _modality(event_shape):
    """"audio" for models over sequences of any length (event_shape (None,)), else "image"."""
    return "audio" if any(d is None for d in event_shape) else "image"


def _entry_modality(record):
    return "image" if "image_shape" in record["config"] else "audio"


def _require_image(modality, command):
    if modality != "image":
        raise CommandError(
            f"`tfar {command}` handles image models; audio models are used from Python for now "
            "(tfar.data.audio_dataset + model.fit / model.sample)"
        )


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _data():
    from tfar import data

    return data


def _image_dataset(name, split, batch_size, num_classes, source, limit=None, shuffle=False, repeat=False,
                   seed=0, num_levels=256):
    """A dataset of x (or (x, labels) for a conditional model) from ``tfar.data.load``."""
    return _data().load(
        name, split=split, batch_size=batch_size, num_levels=num_levels, with_labels=num_classes is not None,
        shuffle=shuffle, repeat=repeat, limit=limit, source=source, seed=seed,
    )


def _first_examples(dataset, count):
    """The first ``count`` examples of a batched dataset as numpy: (x, labels or None)."""
    xs, labels = [], []
    have = 0
    for element in dataset:
        x, y = element if isinstance(element, tuple) else (element, None)
        xs.append(x.numpy())
        if y is not None:
            labels.append(y.numpy())
        have += len(xs[-1])
        if have >= count:
            break
    import numpy as np

    if not xs:
        raise CommandError("the dataset is empty")
    x = np.concatenate(xs)[:count]
    return x, (np.concatenate(labels)[:count] if labels else None)


# ------------------------------------------------------------------- train
def _train_config(args):
    """(zoo name, constructor overrides, data record) for `tfar train`."""
    from tfar import zoo

    record = zoo.info(args.model)  # unknown name -> the zoo's ValueError
    _require_image(_entry_modality(record), "train")
    overrides = _parse_overrides(args.set)
    info = _data().dataset_info(args.data)
    overrides.setdefault("image_shape", [int(d) for d in info["image_shape"]])
    if info.get("num_levels") is not None and "num_levels" in record["config"]:
        overrides.setdefault("num_levels", int(info["num_levels"]))
    if args.conditional:
        if not info.get("num_classes"):
            raise CommandError(f"--conditional: dataset {args.data!r} has no labels")
        overrides.setdefault("num_classes", int(info["num_classes"]))
    data = {
        "name": args.data, "source": args.source, "batch_size": args.batch_size, "limit": args.limit,
        "val_limit": args.val_limit, "with_labels": bool(args.conditional),
    }
    return args.model, overrides, data


def _check_same_run(run_dir, info):
    """Refuse to mix two different trainings in one folder."""
    from tfar.training import run as run_lib

    path = os.path.join(run_dir, run_lib.RUN_FILE)
    if not os.path.isfile(path):
        return None
    old = run_lib.read_run_info(run_dir)
    for key in ("model", "model_config", "data"):
        if old.get(key) != info[key]:
            raise CommandError(
                f"{run_dir} already holds a different run ({key}: {old.get(key)} != {info[key]}); "
                "choose another --out or delete the folder"
            )
    return old


def cmd_train(args):
    import keras

    from tfar import __version__, zoo
    from tfar.training import make_callbacks
    from tfar.training import run as run_lib
    from tfar.training.callbacks import tensorboard_available

    name, overrides, data = _train_config(args)
    keras.utils.set_random_seed(args.seed)
    model = zoo.load(name, pretrained=False, **overrides)
    run_dir = args.out or os.path.join("runs", f"{name}-{args.data}")
    info = {
        "model": name, "model_config": run_lib.model_config(name, model), "data": data,
        "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "lr": args.lr, "seed": args.seed,
        "tfar_version": __version__,
    }
    old = _check_same_run(run_dir, info)
    info["created"] = old["created"] if old else run_lib.now()
    info["updated"] = run_lib.now()
    info["status"] = "training"
    run_lib.write_run_info(run_dir, info)

    done = _epochs_done(run_dir)
    if done >= args.epochs:
        print(f"{run_dir}: already trained for {done} epochs (--epochs {args.epochs}); nothing to do. "
              "Raise --epochs to continue.")
    elif done:
        print(f"{run_dir}: resuming after epoch {done} of {args.epochs}")

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr))
    train = _image_dataset(
        args.data, "train", args.batch_size, model.num_classes, args.source, limit=args.limit, shuffle=True,
        repeat=args.steps_per_epoch is not None, seed=args.seed, num_levels=model.num_levels,
    )
    validation = None
    if args.val_limit:
        validation = _image_dataset(args.data, "test", args.batch_size, model.num_classes, args.source,
                                    limit=args.val_limit, num_levels=model.num_levels)
    callbacks = make_callbacks(run_dir, monitor="val_loss" if validation is not None else "loss",
                               num_samples=args.samples, seed=args.seed, samples=args.samples > 0)
    callbacks += list(getattr(args, "extra_callbacks", None) or [])
    history = model.fit(train, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                        validation_data=validation, callbacks=callbacks, verbose=args.verbose, shuffle=False)

    info["status"] = "finished"
    info["updated"] = run_lib.now()
    run_lib.write_run_info(run_dir, info)
    last = {k: v[-1] for k, v in history.history.items() if v}
    if last:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))
        print(f"epoch {args.epochs}: {shown}")
    print(f"run folder:  {run_dir}")
    print(f"weights:     {run_lib.weights_path(run_dir, 'best')} (best), {run_lib.weights_path(run_dir, 'last')}")
    if args.samples:
        print(f"samples:     {os.path.join(run_dir, run_lib.SAMPLES)}/epoch_NNN.png")
    if tensorboard_available():
        print(f"TensorBoard: tensorboard --logdir {os.path.join(run_dir, run_lib.LOGS)}")
    else:
        print("TensorBoard: not installed (pip install tensorboard), no logs written")
    return 0


def _epochs_done(run_dir):
    """Epochs recorded by the run's BackupAndRestore state (0 for a new run)."""
    from tfar.training import run as run_lib

    path = os.path.join(run_dir, run_lib.BACKUP, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f).get("epoch", 0))


# -------------------------------------------------------------------- eval
def evaluate_bits_per_dim(model, dataset, verbose=1):
    """Exact mean bits/dim over every example of ``dataset`` (x or (x, labels) batches).

    Returns (mean bits/dim, number of examples).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def batch_bits(x, condition):
        return model.bits_per_dim(x, condition)

    steps = int(dataset.cardinality())
    bar = keras.utils.Progbar(steps if steps > 0 else None, verbose=verbose, unit_name="batch")
    total, count = 0.0, 0
    for i, element in enumerate(dataset):
        x, condition = element if isinstance(element, tuple) else (element, None)
        bits = batch_bits(x, condition).numpy().astype(np.float64)
        total += bits.sum()
        count += len(bits)
        bar.update(i + 1, values=[("bits_per_dim", float(bits.mean()))])
    if count == 0:
        raise CommandError("the evaluation split is empty")
    return total / count, count


def cmd_eval(args):
    from tfar.training import run as run_lib

    model, info = run_lib.load_run_model(args.run, which=args.weights)
    _require_image(_modality(model.event_shape), "eval")
    data_name = args.data or info["data"]["name"]
    source = args.source or info["data"].get("source", "auto")
    dataset = _image_dataset(data_name, args.split, args.batch_size, model.num_classes, source, limit=args.limit,
                             num_levels=model.num_levels)
    bits, count = evaluate_bits_per_dim(model, dataset, verbose=args.verbose)
    record = {
        "bits_per_dim": bits, "num_examples": count, "data": data_name, "split": args.split, "source": source,
        "limit": args.limit, "weights": args.weights, "when": run_lib.now(),
    }
    path = run_lib.write_json(os.path.join(args.run, run_lib.EVAL_FILE), record)
    print(f"{args.split} bits/dim: {bits:.4f} ({count} examples of {data_name}) -> {path}")
    return 0


# ------------------------------------------------------------------ sample
def cmd_sample(args):
    import numpy as np

    from tfar import visualize
    from tfar.training import run as run_lib
    from tfar.training.callbacks import sample_conditions

    model, info = run_lib.load_run_model(args.run, which=args.weights)
    _require_image(_modality(model.event_shape), "sample")
    if args.label is not None and model.num_classes is None:
        raise CommandError(f"--label {args.label}: the run's model is unconditional")
    out = args.out or os.path.join(args.run, "sample.png")
    kwargs = dict(seed=args.seed, temperature=args.temperature, method=args.method)
    if args.complete:
        data_name = args.data or info["data"]["name"]
        source = args.source or info["data"].get("source", "auto")
        dataset = _image_dataset(data_name, "test", args.num, model.num_classes, source, limit=args.num,
                                 num_levels=model.num_levels)
        originals, labels = _first_examples(dataset, args.num)
        num = len(originals)
        rows = model.event_shape[0] // 2
        condition = labels
        if model.num_classes is not None and args.label is not None:
            condition = np.full([num], args.label, np.int32)
        samples = np.asarray(model.sample(num, condition=condition, prefix=originals[:, :rows], **kwargs))
        pairs = np.stack([originals, samples], axis=1).reshape(2 * num, *samples.shape[1:])
        ncols = 2 * math.ceil(math.sqrt(num))
        what = f"{num} completions of the bottom {model.event_shape[0] - rows} rows (original | completion)"
    else:
        condition, ncols = sample_conditions(args.num, model.num_classes, args.label)
        num = args.num if condition is None else len(condition)
        pairs = np.asarray(model.sample(num, condition=condition, **kwargs))
        what = f"{num} samples" + (" (one row per class)" if condition is not None and args.label is None else "")
    visualize.save_png(out, visualize.image_grid(pairs, model.num_levels, ncols=ncols))
    print(f"wrote {what} -> {out}")
    return 0


# --------------------------------------------------------------------- zoo
def cmd_zoo(args):
    from tfar import zoo

    if args.zoo_command == "info":
        record = zoo.info(args.name)
        card = record.pop("model_card", None)
        print(json.dumps(record, indent=2))
        if card:
            print()
            print(card.rstrip())
        return 0
    for name in zoo.list():
        record = zoo.info(name)
        metrics = ", ".join(f"{k} {v}" for k, v in sorted((record.get("metrics") or {}).items()))
        trained = "weights" if record.get("weights") else "no weights yet"
        print(f"{name:<28} {record['class']:<18} {record.get('dataset', ''):<16} {trained}"
              + (f"  {metrics}" if metrics else ""))
    return 0


# ------------------------------------------------------------------ parser
def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfar", description="Train, evaluate and sample tfar autoregressive models.",
        epilog="Run `tfar COMMAND --help` for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    sources = ("auto", "full", "embedded")

    train = commands.add_parser(
        "train", help="train a zoo model from scratch into a run folder",
        description="Train a zoo model from scratch; rerun the same command to resume after an interruption.",
    )
    train.add_argument("model", help="zoo entry name (see `tfar zoo list`)")
    train.add_argument("--data", default="fashion_mnist", help="dataset name (default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=10, help="total epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="default: %(default)s")
    train.add_argument("--out", default=None, help="run folder (default: runs/MODEL-DATA)")
    train.add_argument("--conditional", action="store_true", help="condition the model on the class labels")
    train.add_argument("--limit", type=_positive_int, default=None, help="use only the first N training examples")
    train.add_argument("--val-limit", type=_non_negative_int, default=1000,
                       help="test examples used for validation each epoch; 0 disables (default: %(default)s)")
    train.add_argument("--steps-per-epoch", type=_positive_int, default=None,
                       help="batches per epoch (the data repeats); default: one pass over the data")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                       help="model config overrides, values in JSON, e.g. --set filters=32 num_residual_blocks=2")
    train.add_argument("--source", choices=sources, default="auto",
                       help="full dataset, the embedded sample, or auto (full when available)")
    train.add_argument("--samples", type=_non_negative_int, default=16,
                       help="samples in the grid written after each epoch; 0 disables (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling, samples")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "eval", help="bits/dim of a run's model on a whole split",
        description="Exact bits/dim over a whole split (default: test); written to RUN/eval.json.",
    )
    evaluate.add_argument("run", help="run folder written by `tfar train`")
    evaluate.add_argument("--data", default=None, help="dataset name (default: the run's)")
    evaluate.add_argument("--split", default="test", choices=("train", "test"), help="default: %(default)s")
    evaluate.add_argument("--limit", type=_positive_int, default=None, help="only the first N examples")
    evaluate.add_argument("--batch-size", type=_positive_int, default=128, help="default: %(default)s")
    evaluate.add_argument("--source", choices=sources, default=None, help="default: the run's")
    evaluate.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    evaluate.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="1 shows a progress bar")
    evaluate.set_defaults(func=cmd_eval)

    sample = commands.add_parser(
        "sample", help="write a PNG grid of samples from a run's model",
        description="Sample from a run's model into a PNG grid. A conditional model without --label "
                    "gets one row per class; --complete fills in the bottom halves of test images.",
    )
    sample.add_argument("run", help="run folder written by `tfar train`")
    sample.add_argument("--num", type=_positive_int, default=16,
                        help="number of samples (conditional without --label: split over the classes)")
    sample.add_argument("--out", default=None, help="PNG path (default: RUN/sample.png)")
    sample.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    sample.add_argument("--temperature", type=_positive_float, default=1.0, help="default: %(default)s")
    sample.add_argument("--label", type=int, default=None, help="class label for a conditional model")
    sample.add_argument("--complete", action="store_true",
                        help="keep the top halves of real test images and sample the bottom halves")
    sample.add_argument("--method", choices=("fast", "naive"), default="fast", help="default: %(default)s")
    sample.add_argument("--data", default=None, help="dataset for --complete (default: the run's)")
    sample.add_argument("--source", choices=sources, default=None, help="default: the run's")
    sample.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    sample.set_defaults(func=cmd_sample)

    zoo_parser = commands.add_parser("zoo", help="list the zoo or show one entry",
                                     description="List the zoo entries or show one entry's record and card.")
    zoo_commands = zoo_parser.add_subparsers(dest="zoo_command", metavar="{list,info}")
    zoo_commands.add_parser("list", help="one line per entry", description="One line per zoo entry.")
    info = zoo_commands.add_parser("info", help="an entry's config, metrics and model card",
                                   description="Print an entry's record (JSON) and its model card.")
    info.add_argument("name", help="zoo entry name")
    zoo_parser.set_defaults(func=cmd_zoo, zoo_command="list")
    return parser


def main(argv=None, extra_callbacks=None):
    """Run the CLI; returns the exit status. ``extra_callbacks`` are appended in `train` (for tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    args.extra_callbacks = extra_callbacks
    try:
        return args.func(args) or 0
    except ValueError as error:
        if os.environ.get("TFAR_DEBUG"):
            raise
        print(f"tfar {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

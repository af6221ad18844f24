"""The ``tfar`` command line: train, evaluate and sample zoo models; browse the zoo.

    tfar train pixelcnn --data fashion_mnist --epochs 10 --out runs/pixelcnn
    tfar eval runs/pixelcnn
    tfar sample runs/pixelcnn --num 16 --out grid.png
    tfar zoo list | tfar zoo info pixelcnn
    tfar export runs/pixelcnn --out serving/pixelcnn   (see tfar.export.cli)

Audio models (WaveNet) train on a folder or glob of WAV files (mu-law codes, see
:mod:`tfar.data.audio`); ``eval`` reports exact nats and bits per sample over every
sample of the held-out files; ``sample`` writes a 16-bit PCM WAV, optionally
continuing a real recording:

    tfar train wavenet --data sounds/ --out runs/wavenet --steps-per-epoch 100
    tfar eval runs/wavenet
    tfar sample runs/wavenet --seconds 2 --out speech.wav [--prompt file.wav]
    tfar sample wavenet --seconds 2 --out speech.wav   (a zoo name: the pretrained weights)

A run folder (see :mod:`tfar.training.run`) records everything needed to rebuild
its model, so ``eval`` and ``sample`` take only the folder. Rerunning an
interrupted ``train`` command resumes after the last finished epoch; rerunning it
with a larger ``--epochs`` continues training.

Errors in the arguments (unknown model, bad config value, missing run folder)
print one line and exit with status 2 (set TFAR_DEBUG=1 for the traceback).
"""

import argparse
import json
import math
import os
import sys

EXIT_USAGE = 2
DEFAULT_IMAGE_DATA = "fashion_mnist"
AUDIO_STEPS_PER_EPOCH = 100
# How audio is read when a run or zoo entry does not say otherwise (the zoo's WaveNet: 8 kHz speech).
AUDIO_DEFAULTS = {"sample_rate": 8000, "holdout_fraction": 0.05, "trim_threshold": 0.01}


# ----------------------------------------------------------------- helpers
class CommandError(ValueError):
    """A user-facing error: printed without a traceback, exit status 2."""


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


def _non_negative_float(text):
    value = float(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _data():
    from tfar import data

    return data


def _audio():
    from tfar.data import audio

    return audio


def _image_dataset(name, split, batch_size, num_classes, source, limit=None, shuffle=False, repeat=False,
                   seed=0, num_levels=256):
    """A dataset of x (or (x, labels) for a conditional model) from ``tfar.data.load``."""
    return _data().load(
        name, split=split, batch_size=batch_size, num_levels=num_levels, with_labels=num_classes is not None,
        shuffle=shuffle, repeat=repeat, limit=limit, source=source, seed=seed,
    )


def _first_examples(dataset, count):
    """The first ``count`` examples of a batched dataset as numpy: (x, labels or None)."""
    import numpy as np

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
    if not xs:
        raise CommandError("the dataset is empty")
    x = np.concatenate(xs)[:count]
    return x, (np.concatenate(labels)[:count] if labels else None)


# ------------------------------------------------------------------- train
def _train_config(args):
    """(zoo name, constructor overrides, data record) for `tfar train`."""
    from tfar import zoo
    from tfar.training import run as run_lib

    record = zoo.info(args.model)  # unknown name -> the zoo's ValueError
    if run_lib.is_audio(record):
        return _audio_train_config(args)
    args.data = args.data or DEFAULT_IMAGE_DATA
    overrides = run_lib.parse_overrides(args.set)
    info = _data().dataset_info(args.data)
    overrides.setdefault("image_shape", [int(d) for d in info["image_shape"]])
    if info.get("num_levels") is not None and "num_levels" in record["config"]:
        overrides.setdefault("num_levels", int(info["num_levels"]))
    if args.conditional:
        if not info.get("num_classes"):
            raise CommandError(f"--conditional: dataset {args.data!r} has no labels")
        overrides.setdefault("num_classes", int(info["num_classes"]))
    elif "num_classes" in record["config"]:
        overrides.setdefault("num_classes", None)  # a zoo entry may be conditional; train it unconditionally
    data = {
        "name": args.data, "source": args.source, "batch_size": args.batch_size, "limit": args.limit,
        "val_limit": args.val_limit, "with_labels": bool(args.conditional),
    }
    return args.model, overrides, data


def _data_label(data):
    """A short name for a dataset name, folder or glob (for the default run folder)."""
    path = os.path.normpath(data)
    while any(c in os.path.basename(path) for c in "*?[") and os.path.dirname(path):
        path = os.path.dirname(path)
    name = os.path.basename(path)
    return "audio" if not name or any(c in name for c in "*?[") else name


def _audio_train_config(args):
    """(zoo name, overrides, data record) for an audio model: --data is a folder or glob of WAV files."""
    from tfar.training import run as run_lib

    if not args.data:
        raise CommandError(f"{args.model} is an audio model: pass --data FOLDER_OR_GLOB of WAV files")
    if args.conditional:
        raise CommandError("--conditional: audio training on class labels is not supported by the CLI")
    if args.limit is not None:
        raise CommandError("--limit is for image datasets; select audio files with a glob in --data")
    audio = _audio()
    files = audio.find_audio_files(args.data)  # none -> ValueError naming the path
    sample_rate = args.sample_rate or audio.load_wav(files[0])[1]
    data = {
        "modality": "audio", "name": os.path.abspath(args.data), "sample_rate": int(sample_rate),
        "segment_length": args.segment_length, "holdout_fraction": args.holdout_fraction,
        "trim_threshold": AUDIO_DEFAULTS["trim_threshold"], "batch_size": args.batch_size,
        "val_limit": args.val_limit, "with_labels": False,
    }
    return args.model, run_lib.parse_overrides(args.set), data


def _audio_datasets(args, data, num_levels, seed):
    """(train, validation or None) segment datasets of an audio run."""
    audio = _audio()
    common = dict(sample_rate=data["sample_rate"], holdout_fraction=data["holdout_fraction"],
                  trim_threshold=data["trim_threshold"], levels=num_levels)
    train = audio.audio_dataset(data["name"], data["segment_length"], args.batch_size, split="train", seed=seed,
                                **common)
    if not args.val_limit:
        return train, None
    try:
        held_out = audio.audio_dataset(data["name"], data["segment_length"], args.batch_size, split="test",
                                       seed=0, **common)
    except ValueError as error:
        raise CommandError(f"{error}; use --val-limit 0 to train without validation") from None
    # One fixed random segment per held-out file (the same every epoch), --val-limit rounded up to whole
    # batches. Taking whole batches keeps the cardinality known: keras' evaluate mis-averages the loss
    # of a dataset of unknown cardinality (e.g. after unbatch/take/batch).
    return train, held_out.take(math.ceil(args.val_limit / args.batch_size))


def _check_same_run(run_dir, info):
    """Refuse to mix two different trainings in one folder."""
    from tfar.training import run as run_lib

    path = os.path.join(run_dir, run_lib.RUN_FILE)
    if not os.path.isfile(path):
        return None
    old = run_lib.read_run_info(run_dir)
    # Batch size, limits and learning rate may change between sessions; the model and data may not.
    pairs = [("model", old.get("model"), info["model"]),
             ("model_config", old.get("model_config"), info["model_config"])]
    pairs += [(f"data {key}", (old.get("data") or {}).get(key), info["data"][key]) for key in ("name", "with_labels")]
    for what, before, now in pairs:
        if before != now:
            raise CommandError(
                f"{run_dir} already holds a different run ({what}: {before} != {now}); "
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
    audio = run_lib.is_audio(model)
    run_dir = args.out or os.path.join("runs", f"{name}-{_data_label(args.data)}")
    steps_per_epoch = args.steps_per_epoch
    if audio and steps_per_epoch is None:
        steps_per_epoch = AUDIO_STEPS_PER_EPOCH  # random segments repeat forever: an epoch is a number of steps
    num_samples = args.samples if args.samples is not None else (1 if audio else 16)
    info = {
        "model": name, "model_config": run_lib.model_config(name, model), "data": data,
        "epochs": args.epochs, "steps_per_epoch": steps_per_epoch, "lr": args.lr, "seed": args.seed,
        "tfar_version": __version__,
    }
    old = _check_same_run(run_dir, info)
    done = _epochs_done(run_dir)
    if done >= args.epochs:
        print(f"{run_dir}: already trained for {done} epochs (--epochs {args.epochs}); nothing to do. "
              "Raise --epochs to continue.")
        return 0
    if done:
        print(f"{run_dir}: resuming after epoch {done} of {args.epochs}")
    info["created"] = old["created"] if old else run_lib.now()
    info["updated"] = run_lib.now()
    info["status"] = "training"
    run_lib.write_run_info(run_dir, info)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr))
    # a resumed run reshuffles with a new seed instead of replaying the first epochs' order
    if audio:
        train, validation = _audio_datasets(args, data, model.num_levels, seed=args.seed + done)
    else:
        train = _image_dataset(
            args.data, "train", args.batch_size, model.num_classes, args.source, limit=args.limit, shuffle=True,
            repeat=steps_per_epoch is not None, seed=args.seed + done, num_levels=model.num_levels,
        )
        validation = None
        if args.val_limit:
            validation = _image_dataset(args.data, "test", args.batch_size, model.num_classes, args.source,
                                        limit=args.val_limit, num_levels=model.num_levels)
    callbacks = make_callbacks(run_dir, monitor="val_loss" if validation is not None else "loss",
                               num_samples=max(num_samples, 1), seed=args.seed, samples=num_samples > 0,
                               sample_rate=data["sample_rate"] if audio else None,
                               sample_seconds=args.sample_seconds)
    budget = None
    if args.time_budget is not None:
        from tfar.training.callbacks import TimeBudget

        budget = TimeBudget(args.time_budget)
        callbacks.insert(0, budget)
    callbacks += list(getattr(args, "extra_callbacks", None) or [])
    history = model.fit(train, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=validation, callbacks=callbacks, verbose=args.verbose, shuffle=False)

    stopped = budget is not None and budget.hit
    info["status"] = "stopped (time budget)" if stopped else "finished"
    info["updated"] = run_lib.now()
    run_lib.write_run_info(run_dir, info)
    if stopped:
        print(f"note: --time-budget {args.time_budget:g} s reached after {budget.steps} steps; the epoch in "
              "progress was cut short. Rerun the same command to continue.")
    last = {k: v[-1] for k, v in history.history.items() if v}
    if last:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))
        print(f"after epoch {_epochs_done(run_dir)} of {args.epochs}: {shown}")
    print(f"run folder:  {run_dir}")
    print(f"weights:     {run_lib.weights_path(run_dir, 'best')} (best), {run_lib.weights_path(run_dir, 'last')}")
    if num_samples:
        print(f"samples:     {os.path.join(run_dir, run_lib.SAMPLES)}/epoch_NNN.{'wav' if audio else 'png'}")
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


# ------------------------------------------------------- model lookup
def _load_model(run_or_name, which="best"):
    """(model, info, run_dir): a run folder, else a zoo entry name with its pretrained weights (run_dir None).

    A zoo entry's info gets the data a run would record: its dataset, or how its audio is read.
    """
    from tfar import zoo
    from tfar.training import run as run_lib

    model, info, run_dir = run_lib.load_model(run_or_name, which)  # zoo entry without weights -> the zoo's ValueError
    if run_dir is None:
        record = zoo.info(run_or_name)
        if run_lib.is_audio(model):
            info["data"] = dict(AUDIO_DEFAULTS, **(record.get("audio") or {}), modality="audio", name=None)
        else:
            info["data"] = {"name": record.get("dataset") or DEFAULT_IMAGE_DATA, "source": "auto"}
    return model, info, run_dir


def _audio_settings(info):
    """How a run (or zoo entry) reads audio: sample rate, hold-out fraction, trim threshold."""
    data = info.get("data") or {}
    return {key: data.get(key, default) for key, default in AUDIO_DEFAULTS.items()}


# -------------------------------------------------------------------- eval
def evaluate_bits_per_dim(model, dataset, verbose=1):
    """Exact mean bits/dim over every example of ``dataset`` (x or (x, labels) batches).

    Returns (mean bits/dim, number of examples).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    @tf.function(reduce_retracing=True, autograph=False)
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


def evaluate_audio(model, waves, verbose=1):
    """Exact nats per sample over whole files: sum_f -log p(codes_f) / sum_f len(codes_f).

    Each float wave is mu-law encoded in full and scored in one pass, so every sample
    is predicted from its true past (the file start sees the zero padding, as in
    training). Returns (nats per sample, number of samples).
    """
    import keras
    import tensorflow as tf

    from tfar.data.audio import mu_law_encode

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32)], autograph=False)
    def file_log_prob(codes):
        return model.log_prob(codes)[0]

    total_samples = sum(len(w) for w in waves)
    if total_samples == 0:
        raise CommandError("the evaluation split is empty")
    bar = keras.utils.Progbar(total_samples, verbose=verbose, unit_name="sample", stateful_metrics=["nats/sample"])
    nats, count = 0.0, 0
    for wave in waves:
        codes = mu_law_encode(wave, model.num_levels)[None]
        nats -= float(file_log_prob(codes))
        count += len(wave)
        bar.update(count, values=[("nats/sample", nats / count)])
    return nats / count, count


def cmd_eval(args):
    from tfar.training import run as run_lib

    model, info, run_dir = _load_model(args.run, args.weights)
    out = args.out or (os.path.join(run_dir, run_lib.EVAL_FILE) if run_dir else None)
    if run_lib.is_audio(model):
        return _eval_audio(args, model, info, out)
    data_name = args.data or info["data"]["name"]
    source = args.source or info["data"].get("source", "auto")
    dataset = _image_dataset(data_name, args.split, args.batch_size, model.num_classes, source, limit=args.limit,
                             num_levels=model.num_levels)
    bits, count = evaluate_bits_per_dim(model, dataset, verbose=args.verbose)
    record = {
        "bits_per_dim": bits, "num_examples": count, "data": data_name, "split": args.split, "source": source,
        "limit": args.limit, "weights": args.weights, "when": run_lib.now(),
    }
    where = f" -> {run_lib.write_json(out, record)}" if out else ""
    print(f"{args.split} bits/dim: {bits:.4f} ({count} examples of {data_name}){where}")
    return 0


def _eval_audio(args, model, info, out):
    from tfar.training import run as run_lib

    path = args.data or info["data"].get("name")
    if not path:
        raise CommandError(f"--data FOLDER_OR_GLOB of WAV files is needed to evaluate {args.run!r}")
    settings = _audio_settings(info)
    waves, rate, names = _audio().load_corpus(
        path, sample_rate=settings["sample_rate"], split=args.split, holdout_fraction=settings["holdout_fraction"],
        trim_threshold=settings["trim_threshold"],
    )
    if args.limit:
        waves, names = waves[: args.limit], names[: args.limit]
    nats, count = evaluate_audio(model, waves, verbose=args.verbose)
    baseline = math.log(model.num_levels)
    record = {
        "nats_per_sample": nats, "bits_per_sample": nats / math.log(2.0), "bits_per_dim": nats / math.log(2.0),
        "uniform_baseline_nats": baseline, "uniform_baseline_bits": math.log2(model.num_levels),
        "num_samples": count, "num_files": len(waves), "files": names, "data": path, "split": args.split,
        "sample_rate": rate, "holdout_fraction": settings["holdout_fraction"], "limit": args.limit,
        "weights": args.weights, "when": run_lib.now(),
    }
    where = f" -> {run_lib.write_json(out, record)}" if out else ""
    print(f"{args.split}: {nats:.4f} nats/sample = {record['bits_per_sample']:.4f} bits/sample over {count} samples "
          f"of {len(waves)} files (uniform baseline ln({model.num_levels}) = {baseline:.4f} nats = "
          f"{record['uniform_baseline_bits']:.4f} bits){where}")
    return 0


# ------------------------------------------------------------------ sample
def cmd_sample(args):
    import numpy as np

    from tfar import visualize
    from tfar.training import run as run_lib
    from tfar.training.callbacks import sample_conditions

    model, info, run_dir = _load_model(args.run, args.weights)
    if run_lib.is_audio(model):
        return _sample_audio(args, model, info, run_dir)
    for flag, value in (("--prompt", args.prompt), ("--prompt-seconds", args.prompt_seconds)):
        if value is not None:
            raise CommandError(f"{flag} is for audio models; {args.run} is an image model (see --complete)")
    if args.label is not None and model.num_classes is None:
        raise CommandError(f"--label {args.label}: the run's model is unconditional")
    args.num = args.num or 16
    out = args.out or os.path.join(run_dir or ".", "sample.png")
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


def load_prompt(path, sample_rate, trim_threshold, seconds, num_levels):
    """mu-law codes [T0] of the start of a recording, read the way the training data is.

    The file is mixed to mono, resampled to ``sample_rate`` and silence-trimmed
    (:func:`tfar.data.audio.load_corpus`), then its first ``seconds`` (all of it if
    shorter) are encoded.
    """
    import numpy as np

    audio = _audio()
    if not os.path.isfile(path):
        raise CommandError(f"--prompt {path!r}: no such file")
    wave, rate = audio.load_wav(path)  # not a WAV -> ValueError naming the file
    if rate != sample_rate:
        wave = audio.resample(wave, rate, sample_rate)
    wave = audio.trim_silence(wave, trim_threshold)
    count = min(len(wave), max(1, int(round(seconds * sample_rate))))
    return np.asarray(audio.mu_law_encode(wave[:count], num_levels))


def _sample_audio(args, model, info, run_dir):
    import time

    import numpy as np

    from tfar.training.audio import codes_to_pcm16, write_wav

    for flag, value in (("--label", args.label), ("--complete", args.complete or None)):
        if value is not None:
            raise CommandError(f"{flag} is for image models; {args.run} is an audio model (see --prompt)")
    settings = _audio_settings(info)
    rate = int(settings["sample_rate"])
    length = max(1, int(round(args.seconds * rate)))
    num = args.num or 1
    prefix, told = None, ""
    if args.prompt is not None:
        seconds = args.prompt_seconds if args.prompt_seconds is not None else args.seconds / 2
        prompt = load_prompt(args.prompt, rate, settings["trim_threshold"], seconds, model.num_levels)
        if len(prompt) >= length:
            raise CommandError(
                f"the prompt ({len(prompt)} samples) fills the whole output ({length} samples = --seconds "
                f"{args.seconds:g}); raise --seconds or lower --prompt-seconds"
            )
        prefix = np.repeat(prompt[None], num, axis=0)
        told = f", the first {len(prompt) / rate:.2f} s from {args.prompt}"
    elif args.prompt_seconds is not None:
        raise CommandError("--prompt-seconds needs --prompt FILE.wav")
    print(f"sampling {num} x {length} samples ({length / rate:.2f} s at {rate} Hz, {args.method})...", flush=True)
    start = time.perf_counter()
    codes = np.asarray(model.sample(num, seed=args.seed, temperature=args.temperature, prefix=prefix, length=length,
                                    method=args.method))
    took = time.perf_counter() - start
    out = args.out or os.path.join(run_dir or ".", "sample.wav")
    root, ext = os.path.splitext(out)
    paths = [out] if num == 1 else [f"{root}_{k + 1}{ext or '.wav'}" for k in range(num)]
    for path, clip in zip(paths, codes):
        write_wav(path, codes_to_pcm16(clip, model.num_levels), rate)
    shown = out if num == 1 else f"{paths[0]} ... {paths[-1]}"
    print(f"wrote {num} x {length / rate:.2f} s of 16-bit PCM at {rate} Hz{told} -> {shown} "
          f"(took {took:.1f} s, {num * length / max(took, 1e-9):.0f} samples/s)")
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
    train.add_argument("--data", default=None,
                       help=f"image models: dataset name (default: {DEFAULT_IMAGE_DATA}); "
                            "audio models: a folder (searched recursively) or glob of WAV files")
    train.add_argument("--epochs", type=_positive_int, default=10, help="total epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="default: %(default)s")
    train.add_argument("--out", default=None, help="run folder (default: runs/MODEL-DATA)")
    train.add_argument("--conditional", action="store_true", help="condition the model on the class labels")
    train.add_argument("--limit", type=_positive_int, default=None, help="use only the first N training examples")
    train.add_argument("--val-limit", type=_non_negative_int, default=1000,
                       help="test examples used for validation each epoch (audio: one segment per held-out file, "
                            "rounded up to whole batches); 0 disables (default: %(default)s)")
    train.add_argument("--steps-per-epoch", type=_positive_int, default=None,
                       help="batches per epoch (the data repeats); default: one pass over the data "
                            f"(audio: {AUDIO_STEPS_PER_EPOCH})")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                       help="model config overrides, values in JSON, e.g. --set filters=32 num_residual_blocks=2")
    train.add_argument("--source", choices=sources, default="auto",
                       help="full dataset, the embedded sample, or auto (full when available)")
    train.add_argument("--samples", type=_non_negative_int, default=None,
                       help="samples written after each epoch: images in a grid (default 16), audio clips "
                            "as WAV + TensorBoard audio (default 1); 0 disables")
    train.add_argument("--time-budget", type=_non_negative_float, default=None, metavar="SECONDS",
                       help="stop after this much wall time (the epoch in progress ends early and is saved)")
    audio = train.add_argument_group("audio models")
    audio.add_argument("--segment-length", type=_positive_int, default=4000,
                       help="samples per training segment (default: %(default)s)")
    audio.add_argument("--sample-rate", type=_positive_int, default=None,
                       help="resample every file to this rate in Hz (default: the first file's rate)")
    audio.add_argument("--holdout-fraction", type=_fraction, default=AUDIO_DEFAULTS["holdout_fraction"],
                       help="share of files held out for validation/eval, chosen by a stable hash of the "
                            "file name (default: %(default)s)")
    audio.add_argument("--sample-seconds", type=_positive_float, default=0.5,
                       help="length of the clip generated after each epoch (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling, samples")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "eval", help="bits/dim (audio: nats and bits per sample) of a model on a whole split",
        description="Exact bits/dim over a whole split (default: test); written to RUN/eval.json. "
                    "Audio models: nats and bits per sample over every sample of every held-out file "
                    "(each file scored whole), next to the uniform baseline ln(num_levels).",
    )
    evaluate.add_argument("run", help="run folder written by `tfar train`, or a zoo name (pretrained weights)")
    evaluate.add_argument("--data", default=None,
                          help="dataset name, or a folder/glob of WAV files for audio (default: the run's)")
    evaluate.add_argument("--split", default="test", choices=("train", "test"), help="default: %(default)s")
    evaluate.add_argument("--limit", type=_positive_int, default=None,
                          help="only the first N examples (audio: files)")
    evaluate.add_argument("--batch-size", type=_positive_int, default=128, help="default: %(default)s")
    evaluate.add_argument("--source", choices=sources, default=None, help="default: the run's")
    evaluate.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    evaluate.add_argument("--out", default=None,
                          help="JSON path for the result (default: RUN/eval.json; a zoo name writes only with --out)")
    evaluate.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="1 shows a progress bar")
    evaluate.set_defaults(func=cmd_eval)

    sample = commands.add_parser(
        "sample", help="write a PNG grid (images) or a WAV file (audio) of samples",
        description="Sample from a run's model (or a zoo entry's pretrained weights) into a PNG grid. A "
                    "conditional model without --label gets one row per class; --complete fills in the bottom "
                    "halves of test images. Audio models write a 16-bit PCM WAV at the training sample rate; "
                    "--prompt continues a real recording, kept exactly at the start of the output.",
    )
    sample.add_argument("run", help="run folder written by `tfar train`, or a zoo name (pretrained weights)")
    sample.add_argument("--num", type=_positive_int, default=None,
                        help="number of samples (default: 16 images, 1 audio clip); a conditional model without "
                             "--label draws ceil(NUM / classes) per class, one row per class; several audio "
                             "clips go to OUT_1.wav, OUT_2.wav, ...")
    sample.add_argument("--out", default=None, help="PNG or WAV path (default: RUN/sample.png or RUN/sample.wav)")
    sample.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    sample.add_argument("--temperature", type=_positive_float, default=1.0, help="default: %(default)s")
    sample.add_argument("--label", type=int, default=None, help="class label for a conditional model")
    sample.add_argument("--complete", action="store_true",
                        help="keep the top halves of real test images and sample the bottom halves")
    sample.add_argument("--method", choices=("fast", "naive"), default="fast", help="default: %(default)s")
    sample.add_argument("--data", default=None, help="dataset for --complete (default: the run's)")
    sample.add_argument("--source", choices=sources, default=None, help="default: the run's")
    sample.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    audio = sample.add_argument_group("audio models")
    audio.add_argument("--seconds", type=_positive_float, default=2.0,
                       help="length of the output, prompt included (default: %(default)s)")
    audio.add_argument("--prompt", default=None, metavar="FILE.wav",
                       help="continue this recording (resampled and silence-trimmed like the training data)")
    audio.add_argument("--prompt-seconds", type=_positive_float, default=None,
                       help="how much of the prompt to keep (default: half of --seconds, at most the whole file)")
    sample.set_defaults(func=cmd_sample)

    _add_export_command(commands)

    bench = commands.add_parser(
        "bench", help="time fast (cached step) against naive sampling for zoo models",
        description="Sample from zoo models with the fast single-step graph and with the naive full-recompute "
                    "sampler, side by side, and report both times and whether the samples are identical.",
    )
    bench.add_argument("models", nargs="*", metavar="MODEL", help="zoo names (default: the whole zoo)")
    bench.add_argument("--num", type=_positive_int, default=4, help="samples per method (default: %(default)s)")
    bench.add_argument("--length", type=_positive_int, default=400,
                       help="samples per clip for audio models (default: %(default)s)")
    bench.add_argument("--repeats", type=_positive_int, default=1, help="timed runs per method; medians reported")
    bench.add_argument("--out", default=None, help="also write the results as JSON here")
    bench.set_defaults(func=cmd_bench)

    zoo_parser = commands.add_parser("zoo", help="list the zoo or show one entry",
                                     description="List the zoo entries or show one entry's record and card.")
    zoo_commands = zoo_parser.add_subparsers(dest="zoo_command", metavar="{list,info}")
    zoo_commands.add_parser("list", help="one line per entry", description="One line per zoo entry.")
    info = zoo_commands.add_parser("info", help="an entry's config, metrics and model card",
                                   description="Print an entry's record (JSON) and its model card.")
    info.add_argument("name", help="zoo entry name")
    zoo_parser.set_defaults(func=cmd_zoo, zoo_command="list")
    return parser


def _add_export_command(commands):
    """`tfar export`, whose arguments and runner live in :mod:`tfar.export.cli`."""
    from tfar.export import cli as export_cli

    export = commands.add_parser(
        "export", help="export a run folder or zoo entry to SavedModel (TF Serving) and/or ONNX",
        description="Export a run folder (its best weights) or a zoo entry to a TF Serving SavedModel "
                    "and/or ONNX files.",
    )
    export_cli.add_export_arguments(export)
    export.set_defaults(func=export_cli.export_main)


def cmd_bench(args):
    """`tfar bench`: fast vs naive sampling, side by side, for zoo models."""
    from tfar import zoo
    from tfar.sampling.benchmark import compare_methods
    from tfar.training import run as run_lib

    known = zoo.list()
    names = args.models or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CommandError(f"unknown zoo models {unknown}; the zoo has: {', '.join(known)}")
    results = {}
    print(f"{'model':<28} {'fast s':>8} {'naive s':>8} {'speed-up':>9}  identical")
    for name in names:
        record = zoo.info(name)
        model = zoo.load(name, pretrained=bool(record["weights"]))
        audio = run_lib.is_audio(model)
        condition = None if model.num_classes is None else [i % model.num_classes for i in range(args.num)]
        result = compare_methods(model, args.num, condition=condition, length=args.length if audio else None,
                                 repeats=args.repeats)
        results[name] = dict(result, num_samples=args.num, length=args.length if audio else None,
                             pretrained=bool(record["weights"]))
        print(f"{name:<28} {result['fast_seconds']:>8.2f} {result['naive_seconds']:>8.2f} "
              f"{result['speedup']:>8.1f}x  {result['identical']}", flush=True)
    if args.out:
        run_lib.write_json(args.out, results)
        print(f"-> {args.out}")
    return 0 if all(r["identical"] for r in results.values()) else 1


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
    except KeyboardInterrupt:
        hint = "; rerun the same command to resume after the last finished epoch" if args.command == "train" else ""
        print(f"tfar {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``tfar train MODEL``: train a zoo architecture into a run folder, resumably.

Images train on the "train" split and choose checkpoints on the "validation" split
(both carved from the original training files, see :mod:`tfar.data.images`); audio
trains on the train files and validates on the validation files (three sets by a
stable hash, see :func:`tfar.data.audio.file_split`). The test split is never read
here: ``--val-split test`` is refused. Rerunning an interrupted command resumes after
the last finished epoch; rerunning it with a larger ``--epochs`` continues training.
"""

import os

from tfar.cli import common
from tfar.cli import train_data
from tfar.cli.common import CommandError

# the names of tfar.training.strategy (not imported here: it loads TensorFlow, and parsing must not)
STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def add_parser(commands):
    train = commands.add_parser(
        "train", help="train a zoo model from scratch into a run folder",
        description="Train a zoo model from scratch; rerun the same command to resume after an interruption. "
                    "Checkpoints are chosen on the validation split; the test split is never read.",
    )
    train.add_argument("model", help="zoo entry name (see `tfar zoo list`)")
    train.add_argument("--data", default=None,
                       help=f"image models: dataset name (default: {common.DEFAULT_IMAGE_DATA}); "
                            "audio models: a folder (searched recursively) or glob of WAV files")
    train.add_argument("--epochs", type=common.POSITIVE_INT, default=10, help="total epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=common.POSITIVE_INT, default=64,
                       help="GLOBAL batch: examples per optimizer step, split evenly over the replicas of "
                            "--strategy (per replica: batch size / replicas), so the same command takes the same "
                            "steps on any number of devices (default: %(default)s)")
    train.add_argument("--out", default=None, help="run folder (default: runs/MODEL-DATA)")
    train.add_argument("--conditional", action="store_true", help="condition the model on the class labels")
    train.add_argument("--limit", type=common.POSITIVE_INT, default=None,
                       help="use only the first N training examples")
    train.add_argument("--val-split", default="validation",
                       help="split that chooses checkpoints, read whole every epoch (default: %(default)s; "
                            "the test split is refused)")
    train.add_argument("--val-limit", type=common.NON_NEGATIVE_INT, default=None,
                       help="use only the first N validation examples (audio: one segment per validation file, "
                            "at most N, rounded up to whole batches); 0 disables validation")
    train.add_argument("--steps-per-epoch", type=common.POSITIVE_INT, default=None,
                       help="batches per epoch (default: one pass over the training split; "
                            f"audio: {train_data.AUDIO_STEPS_PER_EPOCH})")
    train.add_argument("--lr", type=common.POSITIVE_FLOAT, default=1e-3,
                       help="Adam learning rate (default: %(default)s)")
    train.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                       help="cosine: decay to 2%% of --lr over --epochs x --steps-per-epoch steps; resuming a "
                            "constant-rate run with cosine anneals it: the decay starts at the steps taken and "
                            "ends at --epochs x --steps-per-epoch (default: %(default)s)")
    train.add_argument("--ema", type=common.FRACTION, default=None, metavar="MOMENTUM",
                       help="Polyak averaging: keep an exponential moving average of the weights with this "
                            "momentum (e.g. 0.999) and validate, checkpoint and sample with it")
    train.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                       help="model config overrides, values in JSON, e.g. --set filters=32 num_residual_blocks=2")
    train.add_argument("--source", choices=common.SOURCES, default="auto",
                       help="full dataset, the embedded sample, or auto (full when available)")
    train.add_argument("--samples", type=common.NON_NEGATIVE_INT, default=None,
                       help="samples written after each epoch: images in a grid (default 16), audio clips "
                            "as WAV + TensorBoard audio (default 1); 0 disables")
    train.add_argument("--time-budget", type=common.NON_NEGATIVE_FLOAT, default=None, metavar="SECONDS",
                       help="stop after this much wall time (the epoch in progress ends early and is saved)")
    train.add_argument("--threads", type=common.POSITIVE_INT, default=None,
                       help="CPU threads per op (TensorFlow's intra-op pool; default: all cores)")
    scaling = train.add_argument_group("scaling (see the README's Scaling section)")
    scaling.add_argument("--strategy", choices=STRATEGIES, default="one_device",
                         help="one_device: the first GPU, else the CPU; mirrored: every local GPU; multi_worker: "
                              "every machine in TF_CONFIG (run the same command on each; the chief writes the run "
                              "folder, which must be on a disk all can read); tpu: a TPU (default: %(default)s)")
    scaling.add_argument("--tpu", default=None, help="--strategy tpu: TPU name or grpc:// address "
                                                     "(default: the TPU VM's own)")
    scaling.add_argument("--precision", choices=PRECISIONS, default="float32",
                         help="mixed_float16: GPUs with tensor cores, with loss scaling; mixed_bfloat16: TPUs and "
                              "Ampere or newer GPUs; likelihoods stay float32 (default: %(default)s)")
    scaling.add_argument("--jit-compile", action="store_true",
                         help="compile the training step with XLA: for one GPU (TPUs always compile; several "
                              "replicas cannot, Keras compiles the replicated step whole); measured slower on CPU. "
                              "Default: Keras's choice (XLA on a single GPU, off under a strategy or on CPU)")
    audio = train.add_argument_group("audio models")
    audio.add_argument("--segment-length", type=common.POSITIVE_INT, default=4000,
                       help="samples per training segment (default: %(default)s)")
    audio.add_argument("--sample-rate", type=common.POSITIVE_INT, default=None,
                       help="resample every file to this rate in Hz (default: the first file's rate)")
    audio.add_argument("--holdout-fraction", type=common.FRACTION, default=common.AUDIO_DEFAULTS["holdout_fraction"],
                       help="share of files held out as the test split, chosen by a stable hash of the file name "
                            "(default: %(default)s)")
    audio.add_argument("--validation-fraction", type=common.FRACTION,
                       default=common.AUDIO_DEFAULTS["validation_fraction"],
                       help="share of files held out for validation (default: %(default)s)")
    audio.add_argument("--sample-seconds", type=common.POSITIVE_FLOAT, default=0.5,
                       help="length of the clip generated after each epoch (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling, samples")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    train.set_defaults(func=run)


def _check_same_run(run_dir, info):
    """Refuse to mix two different trainings in one folder; returns the old run.json or None."""
    from tfar.training import run as run_lib

    if not os.path.isfile(os.path.join(run_dir, run_lib.RUN_FILE)):
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


def _decay_start(args, old, run_dir, total_steps):
    """The optimizer step the cosine decay starts at (None for a constant rate), checked against the run so far.

    A new run decays from step 0. A run already decaying keeps its start. A constant-rate run
    resumed with ``--lr-schedule cosine`` starts decaying at the steps it has taken.
    """
    from tfar.training import read_train_stats

    before = (old or {}).get("lr_schedule", "constant")
    start = (old or {}).get("lr_decay_start_step", 0) if before == "cosine" else None
    if args.lr_schedule == "constant":
        if start is not None:
            raise CommandError(f"{run_dir} decays its learning rate (cosine since step {start}); "
                               "rerun it with --lr-schedule cosine")
        return None
    if start is None:  # a fresh run, or a constant-rate one to anneal from here
        start = int((read_train_stats(run_dir) or {}).get("steps", 0)) if old else 0
    if total_steps <= start:
        raise CommandError(f"--lr-schedule cosine: the run has taken {start} steps, so --epochs x --steps-per-epoch "
                           f"= {total_steps} leaves none to decay over; raise --epochs")
    return start


def _optimizer(args):
    """Adam at --lr (a variable that ``CosineAnneal`` moves, so every run's optimizer state has one layout)."""
    import keras

    if args.ema is None:
        return keras.optimizers.Adam(learning_rate=args.lr)
    return keras.optimizers.Adam(learning_rate=args.lr, use_ema=True, ema_momentum=args.ema)


def _data_dependent_init(model, train):
    """Run the model's data-dependent initialisation (if it has one) on the first training batch."""
    init = getattr(model, "data_dependent_init", None)
    if init is None:
        return
    element = next(iter(train))
    x, condition = element if isinstance(element, tuple) else (element, None)
    init(x, condition)


def _strategy(args):
    """The --strategy (made before any other TensorFlow work) with --precision set; checks --batch-size."""
    from tfar.training import strategy as strategy_lib

    if args.tpu is not None and args.strategy != "tpu":
        raise CommandError(f"--tpu {args.tpu!r} is for --strategy tpu, not {args.strategy}")
    if args.strategy == "multi_worker" and args.time_budget is not None:
        raise CommandError("--time-budget with --strategy multi_worker: each worker's clock would stop it at a "
                           "different step; limit the run with --epochs and --steps-per-epoch")
    strategy = strategy_lib.make_strategy(args.strategy, tpu=args.tpu)
    strategy_lib.set_precision(args.precision)
    replicas = strategy.num_replicas_in_sync
    try:
        args.jit_compile_setting = strategy_lib.jit_compile_setting(args.jit_compile, strategy)
    except ValueError as error:
        raise CommandError(f"--jit-compile with --strategy {args.strategy}: {error}") from None
    if args.batch_size % replicas:
        raise CommandError(f"--batch-size {args.batch_size} is the global batch and must divide evenly over the "
                           f"{replicas} replicas of --strategy {args.strategy}; use a multiple of {replicas}")
    return strategy


# --------------------------------------------------------------------- run
def run(args):
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(args.threads, 2))
    strategy = _strategy(args)
    with strategy.scope():  # the model, its optimizer and its metrics are built in the strategy's scope
        return _run(args, strategy)


def _run(args, strategy):
    import keras

    from tfar import __version__, zoo
    from tfar.training import TimeBudget, make_callbacks
    from tfar.training import run as run_lib
    from tfar.training import strategy as strategy_lib

    chief = strategy_lib.is_chief(strategy)
    name, overrides, data = train_data.train_config(args)
    keras.utils.set_random_seed(args.seed)
    model = zoo.load(name, pretrained=False, **overrides)
    audio = zoo.is_audio(model)
    run_dir = args.out or os.path.join("runs", f"{name}-{common.data_label(args.data)}")
    # a vocoder's samples need mel frames: none by default (tfar vocode resynthesises files)
    default_samples = (0 if getattr(model, "features", None) else 1) if audio else 16
    num_samples = args.samples if args.samples is not None else default_samples
    info = {
        "model": name, "model_config": run_lib.model_config(name, model), "data": data,
        "epochs": args.epochs, "lr": args.lr, "lr_schedule": args.lr_schedule, "ema": args.ema,
        "seed": args.seed, "threads": args.threads, "tfar_version": __version__,
        "strategy": args.strategy, "replicas": model.distribute_strategy.num_replicas_in_sync,
        "precision": args.precision, "jit_compile": args.jit_compile,
    }
    old = _check_same_run(run_dir, info)
    done = run_lib.epochs_done(run_dir)
    if done >= args.epochs:
        print(f"{run_dir}: already trained for {done} epochs (--epochs {args.epochs}); nothing to do. "
              "Raise --epochs to continue.")
        return 0
    if done:
        print(f"{run_dir}: resuming after epoch {done} of {args.epochs}")

    # a resumed run reshuffles with a new seed instead of replaying the first epochs' order
    train, validation, steps_per_epoch = train_data.datasets(args, data, model, seed=args.seed + done)
    total_steps = args.epochs * steps_per_epoch
    decay_start = _decay_start(args, old, run_dir, total_steps)
    info.update(steps_per_epoch=steps_per_epoch, created=old["created"] if old else run_lib.now(),
                updated=run_lib.now(), status="training")
    if decay_start is not None:
        info["lr_decay_start_step"] = decay_start
    if chief:
        run_lib.write_run_info(run_dir, info)

    model.compile(optimizer=_optimizer(args),
                  jit_compile=args.jit_compile_setting)
    if not done:
        _data_dependent_init(model, train)
    monitor = "val_loss" if validation is not None else "loss"
    # every worker keeps its part of each global batch
    train = strategy_lib.shard(train)
    validation = None if validation is None else strategy_lib.shard(validation)
    # multi_worker: the chief writes into run_dir, the other workers into temporary folders
    with strategy_lib.worker_run_dir(run_dir, strategy) as folder:
        callbacks = make_callbacks(folder, monitor=monitor, num_samples=max(num_samples, 1), seed=args.seed,
                                   samples=num_samples > 0, sample_rate=data["sample_rate"] if audio else None,
                                   sample_seconds=args.sample_seconds, batch_size=args.batch_size,
                                   averaging=args.ema is not None)
        budget = None
        if args.time_budget is not None:
            budget = TimeBudget(args.time_budget)
            callbacks.insert(0, budget)
        if decay_start is not None:
            from tfar.training.schedules import ConstantThenCosine, CosineAnneal

            callbacks.insert(0, CosineAnneal(ConstantThenCosine(
                args.lr, decay_start=decay_start, decay_steps=total_steps - decay_start, alpha=0.02)))
        callbacks += list(getattr(args, "extra_callbacks", None) or [])
        history = model.fit(train, epochs=args.epochs, steps_per_epoch=steps_per_epoch, validation_data=validation,
                            callbacks=callbacks, verbose=args.verbose, shuffle=False)

    stopped = budget is not None and budget.hit
    info.update(status="stopped (time budget)" if stopped else "finished", updated=run_lib.now())
    if chief:
        run_lib.write_run_info(run_dir, info)
    if stopped:
        print(f"note: --time-budget {args.time_budget:g} s reached after {budget.steps} steps; the epoch in "
              "progress was cut short. Rerun the same command to continue.")
    last = {k: v[-1] for k, v in history.history.items() if v}
    if last:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))
        print(f"after epoch {run_lib.epochs_done(run_dir)} of {args.epochs}: {shown}")
    print(f"run folder:  {run_dir}")
    print(f"weights:     {run_lib.weights_path(run_dir, 'best')} (best on {monitor}), "
          f"{run_lib.weights_path(run_dir, 'last')}")
    if num_samples:
        print(f"samples:     {os.path.join(run_dir, run_lib.SAMPLES)}/epoch_NNN.{'wav' if audio else 'png'}")
    print(f"TensorBoard: tensorboard --logdir {os.path.join(run_dir, run_lib.LOGS)}")
    return 0

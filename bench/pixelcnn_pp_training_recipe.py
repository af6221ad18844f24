"""PixelCNN++ training recipe on Fashion-MNIST: weight normalisation + data-dependent init and
Polyak averaging (EMA of the parameters), each measured side by side, and the training speed
of candidate configurations.

``train``: one run of a fixed training time on "train[:55000]" (class-conditional, shuffled
batches), scored on the last 5,000 training images ("train[55000:]", the validation split)
with the raw weights and with exponential moving averages of them (the optimizer's
``use_ema`` at ``--ema-momentum``, plus ``--extra-ema`` momenta kept by this script), at four
points of the run. Run two recipes at the same time in two processes (one thread each):

    python bench/pixelcnn_pp_training_recipe.py train --name plain --seconds 900 &
    python bench/pixelcnn_pp_training_recipe.py train --name wn_ddi --weight-norm --seconds 900 &

Time is the process's CPU time by default (``--clock cpu``): with one thread it is the
time the run would take on an idle core, so runs stay comparable on a shared, busy
machine; ``--clock wall`` budgets wall-clock seconds instead.

``speed``: training images per second of each configuration in ``SPEED_CONFIGS`` (1 thread,
median over chunks, per CPU-second by default):

    python bench/pixelcnn_pp_training_recipe.py speed --steps 12

Results go to bench/results/pixelcnn_pp_training_recipe_<name>.json (or ``--out``).
The test split is never read.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = dict(num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.3)
SPEED_CONFIGS = {
    "tiny_f32_r1_h2": TINY,
    "f48_r2_h2": dict(num_resnet=2, num_hierarchies=2, num_filters=48, num_logistic_mix=5, dropout_p=0.3),
    "f64_r2_h2": dict(num_resnet=2, num_hierarchies=2, num_filters=64, num_logistic_mix=5, dropout_p=0.3),
    "f64_r2_h3": dict(num_resnet=2, num_hierarchies=3, num_filters=64, num_logistic_mix=5, dropout_p=0.3),
    "f64_r3_h3": dict(num_resnet=3, num_hierarchies=3, num_filters=64, num_logistic_mix=5, dropout_p=0.3),
    "f80_r2_h3": dict(num_resnet=2, num_hierarchies=3, num_filters=80, num_logistic_mix=5, dropout_p=0.3),
    "f96_r2_h3": dict(num_resnet=2, num_hierarchies=3, num_filters=96, num_logistic_mix=5, dropout_p=0.3),
}


def make_model(config, weight_norm, learning_rate, ema_momentum, dtype=None):
    import keras

    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    model = PixelCNNPlusPlus((28, 28, 1), num_levels=256, num_classes=10, weight_norm=weight_norm, dtype=dtype,
                             **config)
    optimizer = keras.optimizers.Adam(learning_rate, use_ema=ema_momentum is not None,
                                      ema_momentum=ema_momentum or 0.99)
    model.compile(optimizer=optimizer)
    model.build()
    model.optimizer.build(model.trainable_variables)
    return model


def train_stream(batch_size, seed):
    import tfar

    ds = tfar.data.load("fashion_mnist", split="train[:55000]", batch_size=batch_size, with_labels=True,
                        shuffle=True, repeat=True, seed=seed)
    return iter(ds)


def validation_set(limit=None):
    import tfar

    ds = tfar.data.load("fashion_mnist", split="train[55000:]", batch_size=500, with_labels=True, shuffle=False,
                        limit=limit)
    return list(ds)


def score(model, batches):
    fn = getattr(model, "_bench_bpd", None)
    if fn is None:
        fn = model._bench_bpd = tf.function(lambda x, y: model.bits_per_dim(x, y))
    values = [fn(x, y).numpy() for x, y in batches]
    return float(np.mean(np.concatenate(values)))


class ExtraAverages:
    """Exponential moving averages of the trainable variables at more momenta, updated like the
    optimizer's own (the first update copies the variables)."""

    def __init__(self, variables, momenta):
        self.variables, self.momenta = variables, list(momenta)
        self.averages = {m: [tf.Variable(v, trainable=False) for v in variables] for m in self.momenta}
        self.started = tf.Variable(False, trainable=False)

    def update(self):
        for m, averages in self.averages.items():
            momentum = tf.where(self.started, m, 0.0)
            for v, average in zip(self.variables, averages):
                average.assign(momentum * average + (1.0 - momentum) * v)
        self.started.assign(True)


def score_with(model, batches, values):
    """Bits/dim with ``values`` swapped into the trainable variables (then swapped back)."""
    variables = model.trainable_variables
    saved = [v.numpy() for v in variables]
    for v, value in zip(variables, values):
        v.assign(value)
    result = score(model, batches)
    for v, value in zip(variables, saved):
        v.assign(value)
    return result


def score_raw_and_ema(model, batches, extra=None):
    """Bits/dim with the raw weights and with each moving average of them."""
    scores = {"raw": score(model, batches)}
    if model.optimizer.use_ema:
        key = f"ema_{model.optimizer.ema_momentum:g}"
        scores[key] = score_with(model, batches, model.optimizer._model_variables_moving_average)
    for m, averages in (extra.averages.items() if extra else ()):
        scores[f"ema_{m:g}"] = score_with(model, batches, averages)
    return scores


def clock(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def run_train(args):
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    keras.utils.set_random_seed(args.seed)
    config = dict(TINY, **json.loads(args.config)) if args.config else dict(TINY)
    if args.output_init_scale is not None:
        config["output_init_scale"] = args.output_init_scale
    model = make_model(config, args.weight_norm, args.lr, args.ema_momentum)
    stream = train_stream(args.batch_size, args.seed)
    val_quick, val_full = validation_set(limit=1000), validation_set()
    first = next(stream)
    init_start = time.perf_counter()
    initialised = model.data_dependent_init(*first) if args.ddi else 0
    init_seconds = time.perf_counter() - init_start
    extra = ExtraAverages(model.trainable_variables, args.extra_ema) if args.extra_ema else None

    def train(x, y):
        loss = model.train_step((x, y))["loss"]
        if extra is not None:
            with tf.control_dependencies([loss]):
                extra.update()
        return loss

    step = tf.function(train, jit_compile=args.jit)
    step(*first)  # trace outside the timed budget (this first batch is trained on)
    now = clock(args.clock)
    curve, trained, images, losses, steps, wall = [], 0.0, 0, [], 0, time.perf_counter()
    checkpoints = [args.seconds * f for f in (0.25, 0.5, 0.75, 1.0)]
    for i, until in enumerate(checkpoints):
        start = now()
        while trained + now() - start < until:
            x, y = next(stream)
            losses.append(float(step(x, y)))
            images += int(x.shape[0])
            steps += 1
        trained += now() - start
        batches = val_full if i == len(checkpoints) - 1 else val_quick
        point = dict(train_seconds=round(trained, 1), clock=args.clock, steps=steps, images=images,
                     wall_seconds_so_far=round(time.perf_counter() - wall, 1),
                     train_bpd_last_100=float(np.mean(losses[-100:]) / math.log(2.0)),
                     val_examples=sum(int(b[0].shape[0]) for b in batches),
                     **score_raw_and_ema(model, batches, extra))
        curve.append(point)
        print(json.dumps(point), flush=True)
    result = dict(name=args.name, config=config, weight_norm=args.weight_norm, data_dependent_init=args.ddi,
                  output_init_scale=args.output_init_scale,
                  layers_initialised=initialised, init_seconds=round(init_seconds, 2), learning_rate=args.lr,
                  batch_size=args.batch_size, ema_momentum=args.ema_momentum, extra_ema=args.extra_ema,
                  threads=args.threads, seed=args.seed, jit_compile=args.jit, clock=args.clock,
                  images_per_second=round(images / trained, 1),
                  validation="fashion_mnist train[55000:] (5,000 images)", curve=curve, command=" ".join(sys.argv))
    write(result, args.out or os.path.join(HERE, "results", f"pixelcnn_pp_training_recipe_{args.name}.json"))


def run_speed(args):
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    names = args.configs.split(",") if args.configs else list(SPEED_CONFIGS)
    stream = train_stream(args.batch_size, 0)
    rows, now = [], clock(args.clock)
    for name in names:
        for weight_norm in (False, True) if args.both else (args.weight_norm,):
            model = make_model(SPEED_CONFIGS[name], weight_norm, 1e-3, 0.999)
            step = tf.function(lambda x, y, m=model: m.train_step((x, y))["loss"], jit_compile=args.jit)
            float(step(*next(stream)))
            chunk_rates = []
            for _ in range(args.chunks):
                start, images = now(), 0
                for _ in range(args.steps):
                    x, y = next(stream)
                    float(step(x, y))
                    images += int(x.shape[0])
                chunk_rates.append(images / (now() - start))
            row = dict(config=name, weight_norm=weight_norm, params=int(model.count_params()),
                       images_per_second_median=round(statistics.median(chunk_rates), 1),
                       chunks=[round(r, 1) for r in chunk_rates])
            rows.append(row)
            print(json.dumps(row), flush=True)
    write(dict(threads=args.threads, batch_size=args.batch_size, jit_compile=args.jit, clock=args.clock, rows=rows,
               configs={n: SPEED_CONFIGS[n] for n in names}, command=" ".join(sys.argv)),
          args.out or os.path.join(HERE, "results", "pixelcnn_pp_training_speed.json"))


def write(result, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print("wrote", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="one equal-time run, scored on the validation split")
    train.add_argument("--name", required=True)
    train.add_argument("--weight-norm", action="store_true", help="weight-normalised layers")
    train.add_argument("--no-ddi", dest="ddi", action="store_false",
                       help="skip data-dependent init (it runs by default; a no-op without --weight-norm)")
    train.add_argument("--config", default=None, help="JSON overrides of the tiny config")
    train.add_argument("--seconds", type=float, default=900.0, help="training time, excluding scoring")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--ema-momentum", type=float, default=0.999)
    train.add_argument("--extra-ema", type=float, nargs="*", default=[0.995, 0.9995],
                       help="more EMA momenta to score (kept by this script)")
    train.add_argument("--output-init-scale", type=float, default=None,
                       help="data-dependent init: output standard deviation of each gated block's second "
                            "convolution (default: the model's, 1.0 as tfp's init gives; the paper's code uses 0.1)")
    train.add_argument("--out", default=None)
    speed = sub.add_parser("speed", help="training images/s of candidate configurations")
    speed.add_argument("--configs", default=None, help=f"comma-separated subset of {sorted(SPEED_CONFIGS)}")
    speed.add_argument("--steps", type=int, default=12, help="timed steps per chunk")
    speed.add_argument("--chunks", type=int, default=3)
    speed.add_argument("--weight-norm", action="store_true")
    speed.add_argument("--both", action="store_true", help="time each configuration without and with weight norm")
    speed.add_argument("--out", default=None)
    for p in (train, speed):
        p.add_argument("--batch-size", type=int, default=32)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--jit", action="store_true", help="XLA-compile the train step")
        p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                       help="budget and rates in process CPU seconds (default) or wall-clock seconds")
    args = parser.parse_args(argv)
    (run_train if args.command == "train" else run_speed)(args)


if __name__ == "__main__":
    main()

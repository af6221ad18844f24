"""tfar PixelCNN++ vs tfp.distributions.PixelCNN on Fashion-MNIST: speed and bits/dim.

All models use one configuration (num_resnet=1, num_hierarchies=2, num_filters=32,
num_logistic_mix=5, dropout_p=0.3), the same stream of shuffled batches of 32 and Adam(1e-3),
and run in one process:

- ``tfar``: PixelCNNPlusPlus as the zoo trained it until now (no weight normalisation);
- ``tfar_wn``: PixelCNNPlusPlus(weight_norm=True), initialised by ``data_dependent_init`` on
  the first training batch (``--wn-output-init-scale``: the std that init gives each gated
  block's last convolution; the model's default 1.0 as tfp's init, 0.1 as the paper's code);
- ``tfp``: tfp.distributions.PixelCNN (weight norm with data-dependent init by default),
  initialised as its documentation does: its first call sees real data, the same first batch.

Training alternates between them in chunks of ``--chunk`` seconds until each has trained for
``--budget`` seconds, so all see the same CPU load; each chunk gives one images/second
measurement and the reported speed ratios are medians over the paired chunks. Afterwards all
are scored in bits/dim on the first ``--test-size`` test images.

    python bench/pixelcnn_pp_vs_tfp.py                 # full run (~3 x 600 s of training)
    python bench/pixelcnn_pp_vs_tfp.py --quick         # smoke run, seconds of training
"""

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

CONFIG = dict(num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.3)
IMAGE_SHAPE = (28, 28, 1)
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx_images(path):
    """An IDX3 (optionally gzipped) image file -> uint8 [N, H, W, 1]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], ">i4")
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX3 image file (magic {magic})")
    return np.frombuffer(data[16:], np.uint8).reshape(count, rows, cols, 1)


def load_fashion_mnist(data_dir):
    def find(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(data_dir, name)):
                return os.path.join(data_dir, name)
        raise FileNotFoundError(f"{stem}[.gz] not found in {data_dir}")

    return read_idx_images(find("train-images-idx3-ubyte")), read_idx_images(find("t10k-images-idx3-ubyte"))


def batches(train, batch_size, seed):
    """An endless iterator of shuffled uint8 batches; the same seed gives the same stream."""
    ds = tf.data.Dataset.from_tensor_slices(train).repeat().shuffle(10_000, seed=seed)
    return iter(ds.batch(batch_size, drop_remainder=True).prefetch(4))


# ------------------------------------------------------------------- contenders
def make_tfar(jit_compile, init_batch, dtype=None, weight_norm=False, output_init_scale=None):
    """tfar's train step and scorer; ``dtype`` is a Keras dtype policy name (None: float32).

    With ``weight_norm`` the model is initialised on ``init_batch`` (data-dependent init);
    ``output_init_scale`` None keeps the model's default."""
    return make_tfar_model(jit_compile, init_batch, dtype, weight_norm, output_init_scale)[1:]


def make_tfar_model(jit_compile, init_batch, dtype=None, weight_norm=False, output_init_scale=None,
                    model_class=None, weights=None):
    """(model, train step, scorer) as :func:`make_tfar`; ``model_class`` replaces PixelCNNPlusPlus (an
    older revision's, say) and ``weights``, if given, are set instead of the data-dependent init."""
    import keras

    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    extra = {} if output_init_scale is None else dict(output_init_scale=output_init_scale)
    model = (model_class or PixelCNNPlusPlus)(IMAGE_SHAPE, num_levels=256, dtype=dtype, weight_norm=weight_norm,
                                              **CONFIG, **extra)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build()
    if weights is None:
        model.data_dependent_init(tf.cast(init_batch, tf.int32))
    else:
        model.set_weights(weights)
    model.optimizer.build(model.trainable_variables)
    step = tf.function(lambda x: model.train_step(tf.cast(x, tf.int32))["loss"], jit_compile=jit_compile)

    def bits_per_dim(x):
        return model.bits_per_dim(tf.cast(x, tf.int32)).numpy()

    return model, step, bits_per_dim


def make_tfp(jit_compile, init_batch):
    import tensorflow_probability as tfp
    import tf_keras

    dist = tfp.distributions.PixelCNN(image_shape=IMAGE_SHAPE, **CONFIG)
    optimizer = tf_keras.optimizers.Adam(1e-3)
    dims = float(np.prod(IMAGE_SHAPE))

    def train(x):
        x = tf.cast(x, tf.float32)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x, training=True)) / dims
        variables = dist.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    # the first call builds the network and runs tfp's data-dependent init: on real data, as its docs do
    dist.log_prob(tf.cast(init_batch, tf.float32), training=False)
    step = tf.function(train, jit_compile=jit_compile)
    log_prob = tf.function(lambda x: dist.log_prob(tf.cast(x, tf.float32), training=False))

    def bits_per_dim(x):
        return (-log_prob(x) / (dims * math.log(2.0))).numpy()

    return step, bits_per_dim


# ------------------------------------------------------------------- measuring
def run_chunk(step, stream, seconds, batch_size):
    """Train until ``seconds`` have passed; return (images, elapsed, last loss)."""
    start, images, loss = time.perf_counter(), 0, float("nan")
    while True:
        loss = float(step(next(stream)))  # float() waits for the step to finish
        images += batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return images, elapsed, loss


def evaluate(bits_per_dim, test, batch_size=100):
    return float(np.mean(np.concatenate([bits_per_dim(test[i : i + batch_size])
                                         for i in range(0, len(test), batch_size)])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per model")
    parser.add_argument("--chunk", type=float, default=30.0, help="seconds per alternating measurement")
    parser.add_argument("--test-size", type=int, default=1000, help="first N test images scored")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--xla", action="store_true", help="jit_compile the tfar train step (slower on CPU)")
    parser.add_argument("--tfp-xla", action="store_true", help="also jit_compile the tfp train step")
    parser.add_argument("--wn-output-init-scale", type=float, default=None,
                        help="tfar_wn: data-dependent init's std of each gated block's last convolution "
                             "(default: the model's, 1.0 as tfp's init; the paper's code uses 0.1)")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 4 s budget, 2 s chunks, 64 test images")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "pixelcnn_pp_vs_tfp"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.chunk, args.test_size = 4.0, 2.0, 64
    if args.budget <= 0 or args.chunk <= 0 or args.test_size < 1:
        parser.error("--budget, --chunk and --test-size must be positive")

    tf.keras.utils.set_random_seed(args.seed)
    train, test = load_fashion_mnist(args.data_dir)
    test = test[: args.test_size]
    contenders = {}
    init_batch = next(batches(train, args.batch_size, args.seed))  # the first batch of every stream
    makers = (("tfar", lambda jit, b: make_tfar(jit, b), args.xla),
              ("tfar_wn", lambda jit, b: make_tfar(jit, b, weight_norm=True,
                                                   output_init_scale=args.wn_output_init_scale), args.xla),
              ("tfp", make_tfp, args.tfp_xla))
    for name, make, jit in makers:
        step, bits = make(jit, init_batch)
        stream = batches(train, args.batch_size, args.seed)
        start = time.perf_counter()
        step(next(stream))  # trace (and compile) outside the budget
        contenders[name] = dict(step=step, bits=bits, stream=stream, compile_seconds=time.perf_counter() - start,
                                trained=0.0, images=0, rates=[], loss=float("nan"), xla=jit)
        print(f"{name}: first step (trace/compile) {contenders[name]['compile_seconds']:.1f} s", flush=True)

    while any(c["trained"] < args.budget for c in contenders.values()):
        for name, c in contenders.items():  # alternate so both share the same machine load
            seconds = min(args.chunk, args.budget - c["trained"])
            if seconds <= 0:
                continue
            images, elapsed, c["loss"] = run_chunk(c["step"], c["stream"], seconds, args.batch_size)
            c["trained"] += elapsed
            c["images"] += images
            c["rates"].append(images / elapsed)
            print(f"{name}: {c['trained']:7.1f} s  {images / elapsed:7.1f} images/s  loss {c['loss']:.3f} nats/dim",
                  flush=True)

    def ratio(name):  # median over paired chunks of images/s against tfp's
        return statistics.median(a / b for a, b in zip(contenders[name]["rates"], contenders["tfp"]["rates"]))

    script = os.path.relpath(os.path.abspath(__file__), os.path.dirname(HERE))
    result = {
        "command": " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)]),
        "config": dict(CONFIG, image_shape=list(IMAGE_SHAPE), num_levels=256, batch_size=args.batch_size,
                       optimizer="Adam(1e-3)", dataset="Fashion-MNIST",
                       tfar_wn_output_init_scale=args.wn_output_init_scale),
        "budget_seconds": args.budget, "chunk_seconds": args.chunk, "test_images": len(test),
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "speed_ratio_median": round(ratio("tfar"), 3),
        "speed_ratio_wn_median": round(ratio("tfar_wn"), 3),
    }
    for name, c in contenders.items():
        result[name] = {
            "xla": c["xla"], "compile_seconds": round(c["compile_seconds"], 2),
            "train_seconds": round(c["trained"], 1), "images_trained": c["images"],
            "images_per_second_median": round(statistics.median(c["rates"]), 2),
            "images_per_second_chunks": [round(r, 2) for r in c["rates"]],
            "final_train_loss_nats_per_dim": round(c["loss"], 4),
            "test_bits_per_dim": round(evaluate(c["bits"], test), 4),
        }
        print(f"{name}: test bits/dim {result[name]['test_bits_per_dim']:.4f}", flush=True)
    write_results(result, args.output)
    print(json.dumps({k: result[k] for k in ("speed_ratio_median", "speed_ratio_wn_median")}), flush=True)
    return result


def save(result, stem, markdown_lines):
    """Write ``result`` to ``<stem>.json`` and the lines to ``<stem>.md``."""
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write("\n".join(markdown_lines))


def write_results(result, stem):
    names = ("tfar", "tfar_wn", "tfp")
    scale = result["config"].get("tfar_wn_output_init_scale")
    wn_scale = "" if scale is None else f" (output init scale {scale:g})"

    def row(label, key, bold=False):
        cells = [f"**{result[n][key]}**" if bold else f"{result[n][key]}" for n in names]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        "# tfar PixelCNN++ vs tfp.distributions.PixelCNN (Fashion-MNIST)",
        "",
        f"Command: `{result['command']}`" + (" (quick smoke mode: numbers not meaningful)" if result["quick"] else ""),
        "",
        f"Config: {json.dumps(result['config'])}; {result['budget_seconds']:g} s of training each, "
        f"alternating {result['chunk_seconds']:g} s chunks; bits/dim on the first {result['test_images']} test images.",
        f"Machine: {result['machine']['cpus']} CPUs, {result['machine']['platform']}, "
        f"TensorFlow {result['machine']['tensorflow']}.",
        "",
        "Every model is initialised on the same first real training batch: tfp by its first call (its",
        "data-dependent init), tfar_wn by `data_dependent_init`; plain tfar has nothing to initialise.",
        "",
        "| | tfar PixelCNNPlusPlus | tfar, weight_norm + data-dependent init"
        f"{wn_scale} | tfp PixelCNN |",
        "|---|---|---|---|",
        row("XLA train step", "xla"),
        row("first step (trace/compile), s", "compile_seconds"),
        row("training images/s (median of chunks)", "images_per_second_median"),
        row("images trained in the budget", "images_trained"),
        row("final train loss, nats/dim", "final_train_loss_nats_per_dim"),
        row("**test bits/dim**", "test_bits_per_dim", bold=True),
        "",
        f"Speed ratio against tfp (median of paired chunks): tfar **{result['speed_ratio_median']}x**, "
        f"tfar with weight norm **{result['speed_ratio_wn_median']}x**.",
        "",
    ]
    save(result, stem, lines)


if __name__ == "__main__":
    main()

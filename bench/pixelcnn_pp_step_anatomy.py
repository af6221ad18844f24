"""Where a PixelCNN++ training step spends its time, next to tfp.distributions.PixelCNN.

Same configuration and batch as ``pixelcnn_pp_vs_tfp.py`` (num_resnet=1, num_hierarchies=2,
num_filters=32, num_logistic_mix=5, dropout_p=0.3, Fashion-MNIST batches of 32, Adam(1e-3)).
Measured in one process, in alternating rounds, medians reported:

- the tfp training step, and tfar's training step as shipped (TF graph, float32);
  speed ratios are medians over rounds of tfp's time over the contender's in that round;
- tfar's step with XLA (``jit_compile=True``) and under the ``mixed_bfloat16`` dtype policy;
- tfar's *matmul work alone*: every convolution, transposed convolution and dense layer of
  the network run forward and backward at the shape it has in the step, one at a time,
  summed. This is a lower bound on the step: it leaves out every element-wise op
  (concat_elu, dropout, gates, shifts, the mixture likelihood) and the optimizer.

The step's floating-point work is counted from the layers' kernels and output sizes:
forward 2 * MACs, backward twice that (gradients for weights and for inputs; none for
the input image). Work over time for the largest convolution gives the rate this CPU
reaches on convolutions.

Options:

- ``--against REV``: tfar's step with the model files as of git revision REV (loaded under
  private names, see ``REVISION_FILES``), the same weights, in the same rounds; reported as
  the median over rounds of REV's time over the current one's, with the largest relative
  difference of the two log_probs on the batch;
- ``--weight-norm``: also the ``weight_norm=True`` model (tfar's recommended recipe),
  data-dependent-initialised on the batch (and at REV with the same weights);
- ``--profile``: the TF profiler's time per op type over a few steps of each tfar variant;
- ``--threads N``: N intra-op (and one inter-op) threads instead of TF's default;
- ``--tiny``: a network with 8 filters and 2 mixture components (smoke tests).

    python bench/pixelcnn_pp_step_anatomy.py            # ~3 minutes
    python bench/pixelcnn_pp_step_anatomy.py --against d4756ad --weight-norm --profile
    python bench/pixelcnn_pp_step_anatomy.py --quick    # smoke run
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# the files that define PixelCNN++'s training network: loaded as of --against REV under private names
REVISION_FILES = ("tfar/layers/weight_norm.py", "tfar/layers/weight_norm_dense.py", "tfar/layers/shifted_conv2d.py",
                  "tfar/layers/shifted_conv2d_transpose.py", "tfar/layers/gated_resnet.py",
                  "tfar/distributions/discretized_logistic_mixture.py", "tfar/models/pixelcnn_pp.py")
TINY = dict(num_resnet=1, num_hierarchies=2, num_filters=8, num_logistic_mix=2, dropout_p=0.3)

sys.path.insert(0, HERE)  # the sibling scripts with the shared config, data and contenders, and the profiler
import gated_pixelcnn_step_anatomy as gated_anatomy  # noqa: E402
import pixelcnn_pp_vs_tfp as side_by_side  # noqa: E402
from revision_modules import import_at_revision  # noqa: E402


def model_class_at_revision(rev):
    """PixelCNNPlusPlus built from the ``REVISION_FILES`` of git revision ``rev`` (not registered with Keras);
    other tfar modules are today's."""
    return import_at_revision(rev, REVISION_FILES, "tfar/models/pixelcnn_pp.py").PixelCNNPlusPlus


# ------------------------------------------------------------------- the matmul work
@contextlib.contextmanager
def recording_matmul_layers():
    """Record (layer, input shape) for every conv / transposed conv / dense call made inside."""
    import keras

    from tfar.layers.shifted_conv2d import ShiftedConv2D
    from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose

    calls, originals = [], {}
    for cls in (ShiftedConv2D, ShiftedConv2DTranspose, keras.layers.Dense):
        originals[cls] = cls.call

        def call(self, inputs, *args, _original=cls.call, **kwargs):
            calls.append((self, tuple(inputs.shape)))
            return _original(self, inputs, *args, **kwargs)

        cls.call = call
    try:
        yield calls
    finally:
        for cls, original in originals.items():
            cls.call = original


def matmul_layers(model, batch_size):
    """[(layer, input shape, forward MACs, needs input gradient)] for one forward pass."""
    from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose

    h = tf.zeros([batch_size, *model.image_shape])
    with recording_matmul_layers() as calls:
        model.network(h, training=False)
    layers = []
    for layer, shape in calls:
        kernel = int(np.prod(layer.kernel.shape))
        # a transposed conv spreads every input pixel over the kernel; a conv gathers it per output pixel
        pixels = np.prod(shape[:-1]) if isinstance(layer, ShiftedConv2DTranspose) else \
            np.prod(layer.compute_output_shape(shape)[:-1])
        layers.append((layer, shape, int(kernel * pixels), not layer.name.startswith("init")))
    return layers


def step_gflop(layers):
    """Forward 2*MACs; backward 2*MACs for the weight gradient and 2*MACs for the input gradient."""
    return sum(2 * macs * (3 if needs_input_grad else 2) for _, _, macs, needs_input_grad in layers) / 1e9


def layer_timers(layers):
    """One tf.function per distinct (layer kind, shape): forward and backward of that layer alone."""
    timers = {}
    for layer, shape, macs, needs_input_grad in layers:
        key = (type(layer).__name__, shape, tuple(layer.kernel.shape), getattr(layer, "strides", 1), needs_input_grad)
        if key in timers:
            timers[key]["count"] += 1
            continue
        x = tf.Variable(tf.random.normal(shape), trainable=False)

        @tf.autograph.experimental.do_not_convert  # no Python control flow to convert
        def forward_backward(layer=layer, x=x, needs_input_grad=needs_input_grad):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            sources = list(layer.trainable_variables) + ([x] if needs_input_grad else [])
            grads = tape.gradient(y, sources, output_gradients=tf.ones_like(y))
            return tf.add_n([tf.reduce_sum(g[..., :1]) for g in grads])

        timers[key] = dict(fn=tf.function(forward_backward), count=1, macs=macs, needs_input_grad=needs_input_grad)
    return timers


# ------------------------------------------------------------------- measuring
def time_ms(fn, calls):
    """Wall-clock milliseconds per call of ``fn`` (each call waited for)."""
    start = time.perf_counter()
    for _ in range(calls):
        float(fn())
    return (time.perf_counter() - start) / calls * 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="alternating measurement rounds")
    parser.add_argument("--calls", type=int, default=10, help="steps timed per contender per round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", default=side_by_side.DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="smoke mode: 2 rounds of 2 calls")
    parser.add_argument("--tiny", action="store_true", help="a network of 8 filters and 2 components (smoke tests)")
    parser.add_argument("--against", metavar="REV", help="git revision whose tfar step runs in the same rounds")
    parser.add_argument("--weight-norm", action="store_true", help="also time the weight_norm=True model")
    parser.add_argument("--profile", action="store_true", help="add the TF profiler's time per op type")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: TF's default)")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "pixelcnn_pp_step_anatomy"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.calls = 2, 2
    if args.rounds < 1 or args.calls < 1 or args.batch_size < 1:
        parser.error("--rounds, --calls and --batch-size must be positive")

    if args.threads < 0:
        parser.error("--threads must be 0 (TF's default) or positive")
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.tiny:
        side_by_side.CONFIG = TINY
    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    tf.keras.utils.set_random_seed(0)
    train, _ = side_by_side.load_fashion_mnist(args.data_dir)
    batch = tf.constant(train[: args.batch_size])

    tfar_models = {"tfar": side_by_side.make_tfar_model(False, batch)}
    if args.weight_norm:
        tfar_models["tfar_wn"] = side_by_side.make_tfar_model(False, batch, weight_norm=True)
    against = {}
    if args.against:
        old_class = model_class_at_revision(args.against)
        images = tf.cast(batch, tf.int32)
        for name in list(tfar_models):
            model = tfar_models[name][0]
            twin = side_by_side.make_tfar_model(False, batch, weight_norm=model.weight_norm, model_class=old_class,
                                                weights=model.get_weights())
            assert [v.name for v in twin[0].weights] == [v.name for v in model.weights]
            new_lp, old_lp = model.log_prob(images).numpy(), twin[0].log_prob(images).numpy()
            against[name] = float(np.max(np.abs(new_lp - old_lp) / np.abs(old_lp)))
            tfar_models[f"{name}_at_rev"] = twin
    steps = {"tfp": side_by_side.make_tfp(False, batch)[0], **{name: m[1] for name, m in tfar_models.items()},
             "tfar_xla": side_by_side.make_tfar(True, batch)[0],
             "tfar_mixed_bfloat16": side_by_side.make_tfar(False, batch, dtype="mixed_bfloat16")[0]}
    model = PixelCNNPlusPlus(side_by_side.IMAGE_SHAPE, num_levels=256, **side_by_side.CONFIG)
    layers = matmul_layers(model, args.batch_size)
    timers = layer_timers(layers)
    gflop = step_gflop(layers)

    for name, step in steps.items():
        start = time.perf_counter()
        float(step(batch))
        print(f"{name}: first step (trace/compile) {time.perf_counter() - start:.1f} s", flush=True)
    for timer in timers.values():
        float(timer["fn"]())

    rounds = {name: [] for name in [*steps, "tfar_matmul_work_only"]}
    per_layer = {key: [] for key in timers}
    for r in range(args.rounds):
        for name, step in steps.items():
            rounds[name].append(time_ms(lambda step=step: step(batch), args.calls))
        total = 0.0
        for key, timer in timers.items():
            ms = time_ms(timer["fn"], args.calls)
            per_layer[key].append(ms)
            total += ms * timer["count"]
        rounds["tfar_matmul_work_only"].append(total)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in rounds.items()), flush=True)

    median = {name: statistics.median(v) for name, v in rounds.items()}
    tfp_ms = median["tfp"]
    largest = max(timers.values(), key=lambda t: t["macs"])
    largest_key = next(k for k, t in timers.items() if t is largest)
    largest_ms = statistics.median(per_layer[largest_key])
    largest_gflop = 2 * largest["macs"] * (3 if largest["needs_input_grad"] else 2) / 1e9
    script = os.path.relpath(os.path.abspath(__file__), os.path.dirname(HERE))
    result = {
        "command": " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)]),
        "config": dict(side_by_side.CONFIG, image_shape=list(side_by_side.IMAGE_SHAPE), batch_size=args.batch_size),
        "quick": args.quick, "rounds": args.rounds, "calls_per_round": args.calls,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "step_ms_median": {k: round(v, 2) for k, v in median.items()},
        "step_ms_rounds": {k: [round(x, 2) for x in v] for k, v in rounds.items()},
        # paired by round: both sides of a ratio ran back to back under the same machine load
        "speed_ratio_vs_tfp": {k: round(statistics.median(t / x for t, x in zip(rounds["tfp"], v)), 3)
                               for k, v in rounds.items() if k != "tfp"},
        "step_gflop": round(gflop, 2),
        "largest_conv": {"input_shape": list(largest_key[1]), "kernel": list(largest_key[2]),
                         "gflop": round(largest_gflop, 3), "ms": round(largest_ms, 2),
                         "gflop_per_second": round(largest_gflop / largest_ms * 1000, 1)},
        "budget_for_2x_ms": round(tfp_ms / 2, 2),
        "threads": args.threads or "default",
        "layers": [{"kind": k[0], "input_shape": list(k[1]), "kernel": list(k[2]), "strides": k[3],
                    "count": t["count"], "ms_median": round(statistics.median(per_layer[k]), 3)}
                   for k, t in timers.items()],
    }
    if args.against:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", args.against], capture_output=True, text=True)
        result["against"] = {
            "revision": args.against, "revision_commit": commit.stdout.strip(),
            "log_prob_max_rel_diff": against,
            # paired by round, as the ratios against tfp: REV's time over the current one's
            "speedup_vs_revision": {name: round(statistics.median(o / n for o, n in zip(rounds[f"{name}_at_rev"],
                                                                                         rounds[name])), 3)
                                    for name in against},
        }
    if args.profile:
        result["op_types_ms_per_step"] = {}
        for name in tfar_models:
            per_type = gated_anatomy.op_type_profile(lambda step=steps[name]: float(step(batch)),
                                                     steps=1 if args.quick else 3)
            result["op_types_ms_per_step"][name] = {
                "total": round(sum(per_type.values()), 1), "top": {k: round(v, 2) for k, v in list(per_type.items())[:20]}}
    write_results(result, args.output)
    print(json.dumps({k: result[k] for k in ("step_ms_median", "speed_ratio_vs_tfp", "budget_for_2x_ms")
                      + (("against",) if args.against else ())}), flush=True)
    return result


def write_results(result, stem):
    ms, ratio = result["step_ms_median"], result["speed_ratio_vs_tfp"]
    conv = result["largest_conv"]
    rev = result.get("against", {}).get("revision")
    rows = [
        ("tfp.distributions.PixelCNN, TF graph, float32", "tfp"),
        ("tfar PixelCNNPlusPlus, TF graph, float32 (shipped)", "tfar"),
        (f"tfar at {rev}, same weights", "tfar_at_rev"),
        ("tfar, `weight_norm=True`", "tfar_wn"),
        (f"tfar, `weight_norm=True`, at {rev}, same weights", "tfar_wn_at_rev"),
        ("tfar, XLA `jit_compile=True`", "tfar_xla"),
        ("tfar, `mixed_bfloat16` policy", "tfar_mixed_bfloat16"),
        ("tfar, convolutions and dense layers alone (lower bound)", "tfar_matmul_work_only"),
    ]
    rows = [(label, key) for label, key in rows if key in ms]
    lines = [
        "# Anatomy of a PixelCNN++ training step (tfar vs tfp)",
        "",
        f"Command: `{result['command']}`" + (" (quick smoke mode: numbers not meaningful)" if result["quick"] else ""),
        "",
        f"Config: {json.dumps(result['config'])}. Medians of {result['rounds']} alternating rounds of "
        f"{result['calls_per_round']} steps. Machine: {result['machine']['cpus']} CPUs, "
        f"TensorFlow {result['machine']['tensorflow']}, intra-op threads: {result['threads']}.",
        "",
        "| training step | ms/step | images/s | speed vs tfp |",
        "|---|---:|---:|---:|",
    ]
    batch = result["config"]["batch_size"]
    for label, key in rows:
        lines.append(f"| {label} | {ms[key]:.1f} | {batch / ms[key] * 1000:.0f} | "
                     f"{'1' if key == 'tfp' else ratio[key]}x |")
    lines += [
        "",
        f"2x tfp needs a step of at most **{result['budget_for_2x_ms']} ms**. The network's convolutions and "
        f"dense layers are {result['step_gflop']} GFLOP per step (forward and backward); alone they take "
        f"**{ms['tfar_matmul_work_only']:.1f} ms**. The largest convolution runs at "
        f"{conv['gflop_per_second']} GFLOP/s ({conv['gflop']} GFLOP in {conv['ms']} ms).",
        "",
    ]
    if "against" in result:
        against = result["against"]
        lines += [f"Against {against['revision']} ({against['revision_commit'][:10]}), same weights, "
                  "median over rounds of its time over today's:", ""]
        lines += [f"- `{name}`: **{speedup}x** faster; log_prob differs by at most "
                  f"{against['log_prob_max_rel_diff'][name]:.2e} (relative)"
                  for name, speedup in against["speedup_vs_revision"].items()]
        lines.append("")
    for name, profile in result.get("op_types_ms_per_step", {}).items():
        total = profile["total"]
        lines += [f"TF profiler, `{name}` step, ms per step by op type (top 20 of {total} ms of ops):", "",
                  "| op type | ms | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {v} | {100 * v / total:.1f} % |" for k, v in profile["top"].items()]
        lines.append("")
    side_by_side.save(result, stem, lines)


if __name__ == "__main__":
    main()

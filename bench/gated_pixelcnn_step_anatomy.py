"""Where a training step of the zoo's Gated PixelCNN spends its time, optionally next to an older revision.

The zoo entry's configuration (zoo/gated_pixelcnn/config.json), a batch of 32 random levels
and labels (the cost does not depend on the values), Adam(1e-3), a TF-graph step (``tfar
train``'s default, no XLA), one intra-op and one inter-op thread. Everything is timed in one
process, in alternating rounds; medians are reported:

- the whole training step (forward, backward, Adam, metrics) and the loss's forward +
  backward alone (their difference is the optimizer and the metrics);
- each part of the network, forward + backward on the input shape it has in the step
  (gradients for its inputs and weights, a fixed random cotangent): block 0 (mask "A",
  input_kernel_size), one mask-"B" block (counted num_layers - 1 times), the output layers
  (ReLU of h plus the skips, two 1x1 convolutions), the 256-way softmax likelihood;
- ``--profile``: the TF profiler's time per op type over a few steps;
- ``--against REV``: the training step of the model as of git revision REV (its
  gated_pixelcnn.py, gated_block.py and masked_conv2d.py, loaded under private names) with
  the same weights, timed in the same rounds; the ratio is the median over rounds of
  REV's time over the current one's, and the log_prob agreement of the two is reported;
- ``--also NAME``: another zoo entry's training step in the same rounds (e.g. pixelcnn_pp).

    python bench/gated_pixelcnn_step_anatomy.py --against HEAD --also pixelcnn_pp --profile
    python bench/gated_pixelcnn_step_anatomy.py --quick      # smoke run, numbers not meaningful
"""

import argparse
import collections
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # the sibling revision_modules
from revision_modules import import_at_revision  # noqa: E402
# the files that define the model's training network, imported as of --against REV under private names
REVISION_FILES = ("tfar/layers/masked_conv2d.py", "tfar/layers/gated_block.py", "tfar/models/gated_pixelcnn.py")


def model_at_revision(rev, config):
    """A GatedPixelCNN built from the files of git revision ``rev`` (not registered with Keras)."""
    return import_at_revision(rev, REVISION_FILES, "tfar/models/gated_pixelcnn.py").GatedPixelCNN(**config)


def train_step_fn(model, x, y):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build()
    model.optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        return model.train_step((x, y))

    return step


def forward_backward(fn, inputs, variables, seed=0):
    """tf.function: ``fn(*inputs)`` and the gradient of its outputs (random cotangents) for inputs and variables."""
    inputs = [tf.Variable(t) for t in inputs]

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            outputs = tf.nest.flatten(fn(*inputs))
        rng = np.random.default_rng(seed)
        cotangents = [tf.constant(rng.normal(size=o.shape), o.dtype) for o in outputs]
        return tape.gradient(outputs, inputs + list(variables), output_gradients=cotangents)

    return run


def part_timers(model, x, y):
    """{part: (tf.function, times it occurs in a step)} for the network's parts on their step shapes."""
    batch = x.shape[0]
    height, width, colors = model.image_shape
    filters = model.filters
    rng = np.random.default_rng(1)
    c = model._one_hot(y)
    image = model.embed_input(x)
    features = lambda: tf.constant(rng.normal(size=(batch, height, width, filters)), tf.float32)  # noqa: E731
    first, block = model.blocks[0], model.blocks[1] if len(model.blocks) > 1 else None
    parts = {
        f"block 0 (mask A, {model.input_kernel_size}x{model.input_kernel_size})": (
            forward_backward(lambda: first((image, image), condition=c), [], first.trainable_variables), 1),
    }
    if block is not None:
        parts[f"block 1..{model.num_layers - 1} (mask B, {model.kernel_size}x{model.kernel_size}), each"] = (
            forward_backward(lambda v, h: block((v, h), condition=c), [features(), features()],
                             block.trainable_variables), model.num_layers - 1)
    output_layers = model.output_hidden.trainable_variables + model.output_conv.trainable_variables
    parts["output layers (relu(h + skips), 1x1, 1x1)"] = (
        forward_backward(lambda h, *skips: model._output(h, list(skips)),
                         [features() for _ in range(model.num_layers + 1)], output_layers), 1)
    logits = tf.constant(rng.normal(size=(batch, height, width, colors, model.head.params_per_value)), tf.float32)
    parts["softmax likelihood"] = (
        forward_backward(lambda p: tf.reduce_sum(model.head.log_prob(p, x)), [logits], []), 1)
    return parts


def loss_fn(model, x, y):
    variables = model.trainable_variables

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            loss = model._replica_loss(model._nll_per_dim(x, y, training=True))
        return tape.gradient(loss, variables)

    return run


def alternate(timers, rounds, calls):
    """{name: [ms per call, one entry per round]}, the timers run in turn within each round."""
    for fn in timers.values():
        fn()
        fn()  # trace, then one warm call
    times = {name: [] for name in timers}
    for _ in range(rounds):
        for name, fn in timers.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append(1e3 * (time.perf_counter() - start) / calls)
    return times


def op_type_profile(step, steps=3):
    """{op type: ms per step} from the TF profiler's host events, largest first."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    logdir = tempfile.mkdtemp(prefix="gated_pixelcnn_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(steps):
        step()
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    per_type = collections.Counter()
    for plane in space.planes:
        if "host" not in plane.name.lower():
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                # op events are "node name:OpType"; skip the enclosing function call
                if ":" in name and "::" not in name and "__inference" not in name:
                    per_type[name.rsplit(":", 1)[1]] += event.duration_ps / 1e9 / steps
    return dict(per_type.most_common())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9, help="alternating measurement rounds")
    parser.add_argument("--calls", type=int, default=2, help="calls timed per contender per round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--against", metavar="REV", help="git revision to time side by side (e.g. HEAD)")
    parser.add_argument("--also", metavar="NAME", action="append", default=[],
                        help="another zoo entry whose training step runs in the same rounds")
    parser.add_argument("--profile", action="store_true", help="add the TF profiler's time per op type")
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: a 2-layer, 8-filter model, batch 4, 2 rounds of 1 call")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "gated_pixelcnn_step_anatomy"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.calls, args.batch_size = 2, 1, 4
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import tfar.zoo
    from tfar.models import GatedPixelCNN

    config = tfar.zoo.config_defaults(tfar.zoo.info("gated_pixelcnn"))
    if args.quick:
        config.update(num_layers=2, filters=8, output_filters=8)
    rng = np.random.default_rng(0)
    height, width, colors = config["image_shape"]
    x = tf.constant(rng.integers(0, config["num_levels"], (args.batch_size, height, width, colors)), tf.int32)
    y = tf.constant(np.arange(args.batch_size) % config["num_classes"], tf.int32)

    model = GatedPixelCNN(**config)
    steps = {"step": train_step_fn(model, x, y)}
    result = {"config": config, "batch_size": args.batch_size, "rounds": args.rounds, "calls": args.calls,
              "quick": args.quick, "params": int(model.count_params())}
    if args.against:
        old = model_at_revision(args.against, config)
        old.build()
        old.set_weights(model.get_weights())
        new_lp, old_lp = model.log_prob(x, y).numpy(), old.log_prob(x, y).numpy()
        result["against"] = {"revision": args.against,
                             "revision_commit": subprocess.run(["git", "-C", ROOT, "rev-parse", args.against],
                                                               capture_output=True, text=True).stdout.strip(),
                             "log_prob_max_rel_diff": float(np.max(np.abs(new_lp - old_lp) / np.abs(old_lp)))}
        steps[f"step at {args.against}"] = train_step_fn(old, x, y)
    for name in args.also:
        steps[f"{name} step"] = train_step_fn(tfar.zoo.load(name, pretrained=False), x, y)
    parts = part_timers(model, x, y)
    timers = dict(steps, **{"loss forward+backward": loss_fn(model, x, y)}, **{k: fn for k, (fn, _) in parts.items()})
    times = alternate(timers, args.rounds, args.calls)
    median = {name: round(statistics.median(t), 2) for name, t in times.items()}
    step_ms, loss_ms = median["step"], median["loss forward+backward"]
    shares = {"optimizer and metrics": round((step_ms - loss_ms) / step_ms, 3)}
    counted = 0.0
    for name, (_, count) in parts.items():
        shares[name + (f" x {count}" if count > 1 else "")] = round(count * median[name] / step_ms, 3)
        counted += count * median[name]
    rest = "not attributed (embedding, sums; parts run slower in the step than alone)"
    shares[rest] = round((loss_ms - counted) / step_ms, 3)
    result.update(ms_median=median, step_shares=shares, images_per_second=round(1e3 * args.batch_size / step_ms, 1))
    ratios = {}
    for name in steps:
        if name != "step":
            ratios[f"{name} / step"] = round(statistics.median(a / b for a, b in zip(times[name], times["step"])), 3)
    result["ratios_median_over_rounds"] = ratios
    if args.profile:
        per_type = op_type_profile(steps["step"], steps=1 if args.quick else 3)
        total = sum(per_type.values())
        result["op_types_ms_per_step"] = {k: round(v, 2) for k, v in list(per_type.items())[:20]}
        result["op_types_total_ms"] = round(total, 1)
    result["machine"] = {"platform": platform.platform(), "processor": platform.processor(),
                         "cpus": os.cpu_count(), "tensorflow": tf.__version__}
    write_results(result, args.output, argv if argv is not None else sys.argv[1:])
    print(json.dumps({k: result[k] for k in ("ms_median", "step_shares", "ratios_median_over_rounds")}, indent=1))
    return result


def write_results(result, stem, argv):
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    lines = [
        "# Gated PixelCNN training step anatomy", "",
        f"`python bench/gated_pixelcnn_step_anatomy.py {' '.join(argv)}`", "",
        f"Config: {json.dumps(result['config'])}, {result['params']} parameters, batch {result['batch_size']}, "
        f"Adam, one intra-op and one inter-op thread. Medians of {result['rounds']} alternating rounds of "
        f"{result['calls']} calls; machine: {result['machine']['cpus']} CPUs, TF {result['machine']['tensorflow']}"
        + (" (smoke run, numbers not meaningful)." if result["quick"] else "."), "",
        f"Training step: **{result['ms_median']['step']} ms** ({result['images_per_second']} images/s).", "",
        "| part (forward + backward) | ms | share of the step |", "|---|---:|---:|",
    ]
    for name, share in result["step_shares"].items():
        base = name.rsplit(" x ", 1)[0]
        ms = result["ms_median"].get(base, "")
        lines.append(f"| {name} | {ms} | {100 * share:.1f} % |")
    if result["ratios_median_over_rounds"]:
        lines += ["", "| side by side (median over rounds) | ratio |", "|---|---:|"]
        lines += [f"| {name} | {ratio} |" for name, ratio in result["ratios_median_over_rounds"].items()]
    if "against" in result:
        against = result["against"]
        lines += ["", f"At {against['revision']} ({against['revision_commit'][:10]}) with the same weights, "
                      f"log_prob differs by at most {against['log_prob_max_rel_diff']:.2e} (relative)."]
    if "op_types_ms_per_step" in result:
        total = result["op_types_total_ms"]
        lines += ["", f"TF profiler, ms per step by op type (top 20 of {total} ms of ops):", "",
                  "| op type | ms | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {v} | {100 * v / total:.1f} % |" for k, v in result["op_types_ms_per_step"].items()]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

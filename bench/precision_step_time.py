"""One PixelCNN++ training step under float32, mixed_bfloat16 and mixed_float16, with and without XLA.

The zoo's PixelCNN++ configuration (num_resnet=1, num_hierarchies=2, num_filters=32,
num_logistic_mix=5, dropout_p=0.3, 28x28x1), Adam(1e-3); each contender is the model's
own ``train_step`` in a ``tf.function``. The dtype policy is passed as ``dtype=`` and the
script checks it really reaches the network: it counts the layers with weights whose
compute dtype is the policy's. Measured in one process in alternating rounds, so every
contender sees the same machine load; medians over rounds, and speed ratios as medians
of the per-round ratio baseline time / contender time, in wall-clock time and in this
process's CPU time (the fairer figure on a machine other programs load).

float16 kernels on a CPU are emulated and orders of magnitude slower, so on a machine
without a GPU mixed_float16 runs one step per round on a small batch (``--small-batch``),
against float32 on that same batch.

    python bench/precision_step_time.py            # ~5 minutes on 2 busy CPU cores
    python bench/precision_step_time.py --quick    # smoke run
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = dict(num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.3)
IMAGE_SHAPE = (28, 28, 1)
CONTENDERS = [  # (name, dtype policy, XLA, small batch, the baseline of its speed ratio)
    ("float32", "float32", False, False, "float32"),
    ("float32_xla", "float32", True, False, "float32"),
    ("mixed_bfloat16", "mixed_bfloat16", False, False, "float32"),
    ("mixed_bfloat16_xla", "mixed_bfloat16", True, False, "float32"),
    ("float32_small_batch", "float32", False, True, "float32_small_batch"),
    ("mixed_float16_small_batch", "mixed_float16", False, True, "float32_small_batch"),
]


def make_step(policy, jit_compile):
    """(compiled train step on a batch, number of layers with weights, how many compute in the policy's dtype)."""
    import keras

    from tfar.models import PixelCNNPlusPlus

    keras.utils.set_random_seed(0)
    model = PixelCNNPlusPlus(IMAGE_SHAPE, dtype=policy, **CONFIG)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    layers = [layer for layer in model._flatten_layers(include_self=False) if layer.weights]
    compute = keras.DTypePolicy(policy).compute_dtype
    in_policy = sum(layer.compute_dtype == compute for layer in layers)
    step = tf.function(lambda x: model.train_step(x)["loss"], jit_compile=jit_compile)
    return step, len(layers), in_policy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per contender per round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--small-batch", type=int, default=4,
                        help="batch of the float16 comparison on a machine without a GPU (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 steps")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "precision_step_time"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 3, 2

    gpu = bool(tf.config.list_physical_devices("GPU"))
    images = np.random.default_rng(0).integers(0, 256, size=[args.batch_size, *IMAGE_SHAPE])
    steps, layers, batches, repeats = {}, {}, {}, {}
    for name, policy, jit, small, _ in CONTENDERS:
        small = small and not gpu
        batches[name] = tf.constant(images[: args.small_batch] if small else images, tf.int32)
        repeats[name] = 1 if small else args.steps
        step, total, in_policy = make_step(policy, jit)
        first = time.perf_counter()
        loss = float(step(batches[name]))  # trace and compile
        steps[name] = step
        layers[name] = {"batch_size": int(batches[name].shape[0]), "layers_with_weights": total,
                        "computing_in_policy_dtype": in_policy,
                        "first_call_seconds": round(time.perf_counter() - first, 2), "first_loss": loss}
        print(json.dumps({"contender": name, **layers[name]}), flush=True)

    times = {name: [] for name in steps}  # wall-clock ms per step
    cpu_times = {name: [] for name in steps}  # this process's CPU ms per step (all its threads)
    for _ in range(args.rounds):
        for name, step in steps.items():
            x = batches[name]
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(repeats[name]):
                loss = step(x)
            float(loss)
            times[name].append((time.perf_counter() - start) / repeats[name] * 1000)
            cpu_times[name].append((time.process_time() - cpu_start) / repeats[name] * 1000)
        print(json.dumps({name: [round(t[-1], 1), round(cpu_times[name][-1], 1)] for name, t in times.items()}),
              flush=True)

    result = {
        "command": "python bench/precision_step_time.py" + (" --quick" if args.quick else ""),
        "config": dict(CONFIG, image_shape=list(IMAGE_SHAPE), batch_size=args.batch_size),
        "rounds": args.rounds, "steps_per_round": args.steps, "small_batch_steps_per_round": 1,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "tensorflow": tf.__version__, "gpus": len(tf.config.list_physical_devices("GPU"))},
        "contenders": {
            name: {
                "policy": policy, "jit_compile": jit, "baseline": baseline,
                "step_ms_median": round(statistics.median(times[name]), 1),
                "step_ms_rounds": [round(t, 1) for t in times[name]],
                "speed_vs_baseline": round(statistics.median(
                    b / t for b, t in zip(times[baseline], times[name])), 3),
                "cpu_ms_median": round(statistics.median(cpu_times[name]), 1),
                "cpu_ms_rounds": [round(t, 1) for t in cpu_times[name]],
                "cpu_speed_vs_baseline": round(statistics.median(
                    b / t for b, t in zip(cpu_times[baseline], cpu_times[name])), 3),
                **layers[name],
            }
            for name, policy, jit, _, baseline in CONTENDERS
        },
    }
    write_results(result, args.out)


def write_results(result, stem):
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    machine = result["machine"]
    lines = [
        "# PixelCNN++ training step: float32 vs mixed_bfloat16 vs mixed_float16, with and without XLA",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Config: {json.dumps(result['config'])}. Medians of {result['rounds']} alternating rounds of "
        f"{result['steps_per_round']} steps (1 step on the small batch). Machine: {machine['cpus']} CPUs "
        f"({machine['processor']}), {machine['gpus']} GPUs, TensorFlow {machine['tensorflow']}.",
        "",
        "Speed = median over rounds of (float32 time on the same batch) / (contender time), so a "
        "value below 1 is slower; CPU time is this process's, summed over its threads, and is the "
        "fairer figure when other programs load the machine.",
        "",
        "| policy | XLA | batch | layers in the policy's compute dtype | wall ms/step | CPU ms/step "
        "| speed (wall) | speed (CPU time) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["contenders"].items():
        lines.append(f"| `{row['policy']}` | {'yes' if row['jit_compile'] else 'no'} | {row['batch_size']} | "
                     f"{row['computing_in_policy_dtype']}/{row['layers_with_weights']} | "
                     f"{row['step_ms_median']} | {row['cpu_ms_median']} | {row['speed_vs_baseline']}x | "
                     f"{row['cpu_speed_vs_baseline']}x |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

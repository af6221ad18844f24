"""Time to draw images: tfar PixelCNN++ against tfp.distributions.PixelCNN, same configuration.

Both networks have the configuration of ``pixelcnn_pp_vs_tfp.py`` (num_resnet=1,
num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.3, 28x28x1, 256 levels)
at their initial weights (sampling time does not depend on the weights); tfp's network is
built and initialised on a real Fashion-MNIST batch, as its documentation does. In
alternating rounds, one process, each draws ``--num`` images with:

- tfar ``model.sample(method="fast")``: the cached single-pixel step in one XLA-compiled loop;
- tfar ``model.sample(method="naive")``: the reference that reruns the network per pixel;
- tfp ``PixelCNN.sample``, called eagerly as its documentation does, and wrapped in a
  ``tf.function`` (its pixel loop then runs as one graph).

Every sampler draws once untimed first (tracing and compiling, reported separately); the
medians of ``--rounds`` timed draws are reported, in wall-clock seconds and in process CPU
seconds (on a machine shared with other jobs the CPU time is what an idle machine would
take in wall time, up to the use of more than one core). With ``--zoo`` it also times
``--zoo-num`` class-conditional samples (10 per class) from the zoo entry ``pixelcnn_pp``
and from ``--zoo-config`` at random weights (the configuration the entry is retrained with).

    python bench/pixelcnn_pp_sampling_vs_tfp.py --zoo      # full run (tfp eager dominates)
    python bench/pixelcnn_pp_sampling_vs_tfp.py --quick    # 8x8 images, seconds
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


sys.path.insert(0, HERE)  # the sibling script with the shared config, data and contenders
import pixelcnn_pp_vs_tfp as side_by_side  # noqa: E402


ZOO_CONFIG = dict(num_filters=64, num_resnet=2, num_hierarchies=3, num_logistic_mix=10, dropout_p=0.1,
                  weight_norm=True)


def real_batch(image_shape, data_dir, size=32):
    """``size`` real training images (the centre crop for images smaller than 28x28), float32."""
    train, _ = side_by_side.load_fashion_mnist(data_dir)
    h, w = image_shape[:2]
    top, left = (28 - h) // 2, (28 - w) // 2
    return tf.constant(train[:size, top : top + h, left : left + w].astype(np.float32))


def samplers(image_shape, num, init_batch):
    """name -> a function drawing ``num`` images as a uint8-range NumPy array [num, H, W, C]."""
    import tensorflow_probability as tfp

    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    model = PixelCNNPlusPlus(image_shape, num_levels=256, **side_by_side.CONFIG)
    model.build()
    dist = tfp.distributions.PixelCNN(image_shape=image_shape, **side_by_side.CONFIG)
    dist.log_prob(init_batch)  # builds the network; tfp's data-dependent init sees real images
    # tfp's sample rejects a tensor seed inside tf.function; the traced graph draws fresh noise per call
    tfp_graph = tf.function(lambda: dist.sample(num))
    return {
        "tfar_fast": lambda seed: model.sample(num, seed=seed, method="fast").numpy(),
        "tfar_naive": lambda seed: model.sample(num, seed=seed, method="naive").numpy(),
        "tfp": lambda seed: dist.sample(num, seed=seed).numpy(),
        "tfp_tf_function": lambda seed: tfp_graph().numpy(),
    }


def zoo_samplers(num, config):
    """name -> a function drawing ``num`` class-conditional images (labels 0..9 in turn)."""
    import tfar
    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    labels = np.arange(num) % 10
    entry = tfar.zoo.load("pixelcnn_pp")
    fresh = PixelCNNPlusPlus((28, 28, 1), num_levels=256, num_classes=10, **config)
    fresh.build()
    return {
        "zoo_entry": lambda seed: entry.sample(num, condition=labels, seed=seed).numpy(),
        "zoo_config": lambda seed: fresh.sample(num, condition=labels, seed=seed).numpy(),
    }, {k: v for k, v in entry.get_config().items() if k in ZOO_CONFIG}


def timed_rounds(draws, rounds, image_shape, num):
    """Warm each sampler, then ``rounds`` alternating timed draws: (first, wall, cpu, first images) dicts."""
    first, wall, cpu, drawn = {}, {name: [] for name in draws}, {name: [] for name in draws}, {}
    for name, draw in draws.items():
        start = time.perf_counter()
        images = drawn[name] = draw(0)
        first[name] = time.perf_counter() - start
        if images.shape != (num, *image_shape) or images.min() < 0 or images.max() > 255:
            raise RuntimeError(f"{name} drew {images.shape} in [{images.min()}, {images.max()}]")
        print(f"{name}: first draw {first[name]:.1f} s", flush=True)
    for r in range(rounds):
        for name, draw in draws.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            draw(r + 1)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in wall.items()), flush=True)
    return first, wall, cpu, drawn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=4, help="images per draw")
    parser.add_argument("--rounds", type=int, default=3, help="timed draws per sampler, after a first one")
    parser.add_argument("--size", type=int, default=28, help="image height and width")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 8x8 images, 3 timed rounds")
    parser.add_argument("--zoo", action="store_true", help="also time conditional samples of the zoo entry/config")
    parser.add_argument("--zoo-num", type=int, default=100)
    parser.add_argument("--zoo-config", default=json.dumps(ZOO_CONFIG), help="JSON constructor arguments")
    parser.add_argument("--skip", default="", help="comma-separated samplers not to run, e.g. tfar_naive")
    parser.add_argument("--data-dir", default=side_by_side.DEFAULT_DATA)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "pixelcnn_pp_sampling_vs_tfp"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.rounds = 8, 3
    if args.num < 1 or args.rounds < 1 or args.size < 2:
        parser.error("--num and --rounds must be positive and --size at least 2")

    tf.keras.utils.set_random_seed(0)
    image_shape = (args.size, args.size, 1)
    draws = samplers(image_shape, args.num, real_batch(image_shape, args.data_dir))
    draws = {k: v for k, v in draws.items() if k not in args.skip.split(",")}
    first, seconds, cpu, drawn = timed_rounds(draws, args.rounds, image_shape, args.num)
    median = {name: statistics.median(v) for name, v in seconds.items()}
    cpu_median = {name: statistics.median(v) for name, v in cpu.items()}
    script = os.path.relpath(os.path.abspath(__file__), os.path.dirname(HERE))
    result = {
        "command": " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)]),
        "config": dict(side_by_side.CONFIG, image_shape=list(image_shape), num_levels=256),
        "num_images": args.num, "rounds": args.rounds, "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "first_draw_seconds": {k: round(v, 2) for k, v in first.items()},
        "seconds_median": {k: round(v, 3) for k, v in median.items()},
        "seconds_rounds": {k: [round(x, 3) for x in v] for k, v in seconds.items()},
        "cpu_seconds_median": {k: round(v, 3) for k, v in cpu_median.items()},
        "speedup_vs_tfp": {k: round(float(np.median([t / x for t, x in zip(seconds["tfp"], v)])), 2)
                           for k, v in seconds.items() if k != "tfp"} if "tfp" in seconds else {},
        "speedup_vs_tfp_tf_function": {
            k: round(float(np.median([t / x for t, x in zip(seconds["tfp_tf_function"], v)])), 2)
            for k, v in seconds.items() if k.startswith("tfar")} if "tfp_tf_function" in seconds else {},
        "cpu_speedup_vs_tfp": {k: round(cpu_median["tfp"] / v, 2) for k, v in cpu_median.items()
                               if k != "tfp"} if "tfp" in cpu_median else {},
        # the same seed gives the same noise, so the fast and the naive sampler must draw the same images
        "tfar_fast_equals_naive": bool(np.array_equal(drawn["tfar_fast"], drawn["tfar_naive"]))
        if {"tfar_fast", "tfar_naive"} <= set(drawn) else None,
    }
    if args.zoo:
        zoo_config = json.loads(args.zoo_config)
        zoo_draws, entry_config = zoo_samplers(args.zoo_num, zoo_config)
        z_first, z_wall, z_cpu, _ = timed_rounds(zoo_draws, args.rounds, (28, 28, 1), args.zoo_num)
        result["zoo"] = {
            "num_samples": args.zoo_num, "entry_config": entry_config, "config": zoo_config,
            "first_draw_seconds": {k: round(v, 2) for k, v in z_first.items()},
            "seconds_median": {k: round(statistics.median(v), 3) for k, v in z_wall.items()},
            "seconds_rounds": {k: [round(x, 3) for x in v] for k, v in z_wall.items()},
            "cpu_seconds_median": {k: round(statistics.median(v), 3) for k, v in z_cpu.items()},
        }
    labels = {"tfar_fast": "tfar `sample(method=\"fast\")`", "tfar_naive": "tfar `sample(method=\"naive\")`",
              "tfp": "tfp `PixelCNN.sample` (eager, as documented)",
              "tfp_tf_function": "tfp `PixelCNN.sample` in a `tf.function`"}
    lines = [
        "# Drawing images: tfar PixelCNN++ vs tfp.distributions.PixelCNN",
        "",
        f"Command: `{result['command']}`" + (" (quick smoke mode: numbers not meaningful)" if args.quick else ""),
        "",
        f"{args.num} images of {args.size}x{args.size}x1, config {side_by_side.CONFIG}; tfp initialised on real "
        f"images; medians of {args.rounds} alternating rounds after a first (tracing) draw. "
        f"Machine: {os.cpu_count()} CPUs, TensorFlow {tf.__version__}.",
        "",
        "| sampler | first draw, s | draw, s (median) | CPU s (median) | speed vs tfp eager | vs tfp tf.function |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {labels[k]} | {first[k]:.1f} | {median[k]:.3f} | {cpu_median[k]:.3f} | "
          f"{result['speedup_vs_tfp'].get(k, 1 if k == 'tfp' else '-')}x | "
          f"{result['speedup_vs_tfp_tf_function'].get(k, '-')}x |" for k in draws],
        "",
    ]
    if args.zoo:
        z = result["zoo"]
        lines += [
            f"{z['num_samples']} class-conditional 28x28 samples (10 per class), fast sampler, medians of "
            f"{args.rounds} rounds:",
            "",
            "| model | first draw, s | draw, s (median) | CPU s (median) |",
            "|---|---:|---:|---:|",
            *[f"| {name} | {z['first_draw_seconds'][key]:.1f} | {z['seconds_median'][key]:.2f} | "
              f"{z['cpu_seconds_median'][key]:.2f} |"
              for key, name in (("zoo_entry", f"zoo `pixelcnn_pp` ({json.dumps(z['entry_config'])})"),
                                ("zoo_config", f"retraining config {json.dumps(z['config'])}"))],
            "",
        ]
    side_by_side.save(result, args.output, lines)
    print(result["speedup_vs_tfp"], flush=True)
    return result


if __name__ == "__main__":
    main()

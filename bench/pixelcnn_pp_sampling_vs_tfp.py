"""Time to draw images: tfar PixelCNN++ against tfp.distributions.PixelCNN, same configuration.

Both networks have the configuration of ``pixelcnn_pp_vs_tfp.py`` (num_resnet=1,
num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.3, 28x28x1, 256 levels)
at random initialization; sampling time does not depend on the weights. In alternating
rounds, one process, each draws ``--num`` images with:

- tfar ``model.sample(method="fast")``: one compiled loop over the pixels;
- tfar ``model.sample(method="naive")``: the reference that reruns the network per pixel;
- tfp ``PixelCNN.sample``, called eagerly as its documentation does, and wrapped in a
  ``tf.function`` (its pixel loop then runs as one graph).

The first call of each (tracing and compiling) is timed separately; medians of the rest
are reported.

    python bench/pixelcnn_pp_sampling_vs_tfp.py            # ~3 minutes
    python bench/pixelcnn_pp_sampling_vs_tfp.py --quick    # 8x8 images, seconds
"""

import argparse
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


def samplers(image_shape, num):
    """name -> a function drawing ``num`` images as a uint8-range NumPy array [num, H, W, C]."""
    import tensorflow_probability as tfp

    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    model = PixelCNNPlusPlus(image_shape, num_levels=256, **side_by_side.CONFIG)
    model.build()
    dist = tfp.distributions.PixelCNN(image_shape=image_shape, **side_by_side.CONFIG)
    dist.log_prob(tf.zeros([1, *image_shape]))  # builds the network
    # tfp's sample rejects a tensor seed inside tf.function; the traced graph draws fresh noise per call
    tfp_graph = tf.function(lambda: dist.sample(num))
    return {
        "tfar_fast": lambda seed: model.sample(num, seed=seed, method="fast").numpy(),
        "tfar_naive": lambda seed: model.sample(num, seed=seed, method="naive").numpy(),
        "tfp": lambda seed: dist.sample(num, seed=seed).numpy(),
        "tfp_tf_function": lambda seed: tfp_graph().numpy(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=4, help="images per draw")
    parser.add_argument("--rounds", type=int, default=3, help="timed draws per sampler, after a first one")
    parser.add_argument("--size", type=int, default=28, help="image height and width")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 8x8 images, one timed round")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "pixelcnn_pp_sampling_vs_tfp"),
                        help="path stem for the .json and .md results")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.rounds = 8, 1
    if args.num < 1 or args.rounds < 1 or args.size < 2:
        parser.error("--num and --rounds must be positive and --size at least 2")

    tf.keras.utils.set_random_seed(0)
    image_shape = (args.size, args.size, 1)
    draws = samplers(image_shape, args.num)
    first, seconds = {}, {name: [] for name in draws}
    for name, draw in draws.items():
        start = time.perf_counter()
        images = draw(0)
        first[name] = time.perf_counter() - start
        if images.shape != (args.num, *image_shape) or images.min() < 0 or images.max() > 255:
            raise RuntimeError(f"{name} drew {images.shape} in [{images.min()}, {images.max()}]")
        print(f"{name}: first draw {first[name]:.1f} s", flush=True)
    for r in range(args.rounds):
        for name, draw in draws.items():
            start = time.perf_counter()
            draw(r + 1)
            seconds[name].append(time.perf_counter() - start)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in seconds.items()),
              flush=True)

    median = {name: statistics.median(v) for name, v in seconds.items()}
    script = os.path.relpath(os.path.abspath(__file__), os.path.dirname(HERE))
    result = {
        "command": " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)]),
        "config": dict(side_by_side.CONFIG, image_shape=list(image_shape), num_levels=256),
        "num_images": args.num, "rounds": args.rounds, "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "first_draw_seconds": {k: round(v, 2) for k, v in first.items()},
        "seconds_median": {k: round(v, 2) for k, v in median.items()},
        "seconds_rounds": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        "speedup_vs_tfp": {k: round(float(np.median([t / x for t, x in zip(seconds["tfp"], v)])), 2)
                           for k, v in seconds.items() if k != "tfp"},
    }
    labels = {"tfar_fast": "tfar `sample(method=\"fast\")`", "tfar_naive": "tfar `sample(method=\"naive\")`",
              "tfp": "tfp `PixelCNN.sample`", "tfp_tf_function": "tfp `PixelCNN.sample` in a `tf.function`"}
    lines = [
        "# Drawing images: tfar PixelCNN++ vs tfp.distributions.PixelCNN",
        "",
        f"Command: `{result['command']}`" + (" (quick smoke mode: numbers not meaningful)" if args.quick else ""),
        "",
        f"{args.num} images of {args.size}x{args.size}x1, config {side_by_side.CONFIG}; medians of {args.rounds} "
        f"alternating rounds after a first (tracing) draw. Machine: {os.cpu_count()} CPUs, TensorFlow {tf.__version__}.",
        "",
        "| sampler | first draw, s | draw, s (median) | speed vs tfp |",
        "|---|---:|---:|---:|",
        *[f"| {labels[k]} | {first[k]:.1f} | {median[k]:.1f} | {result['speedup_vs_tfp'].get(k, 1)}x |"
          for k in draws],
        "",
    ]
    side_by_side.save(result, args.output, lines)
    print(result["speedup_vs_tfp"], flush=True)
    return result


if __name__ == "__main__":
    main()

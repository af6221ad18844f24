"""WaveNet sampling speed: the fast sampler (ring-buffer step, one XLA-compiled loop) against naive.

    nice -n 5 python bench/wavenet_sampling.py --out wavenet_sampling

Two configurations, each at batch 1 (``--length1`` samples) and batch 16 (``--length16``):

* ``zoo``: the zoo entry ``wavenet`` with its weights (2 stacks x 9 layers, 32 residual,
  32 dilation, 64 skip channels, receptive field 1,023);
* ``r9y9``: r9y9/wavenet_vocoder's configuration (2 stacks x 10 layers, kernel 2, 64 residual
  channels, a gated convolution of 128 channels (64 + 64), 64 skip channels, 256-way
  categorical output; receptive field 2,047), untrained weights (the cost does not depend on them).

``fast`` draws the whole clip; ``naive`` (the full network on the whole canvas per sample)
draws the first ``--naive-positions`` samples on the full canvas and is extrapolated, since
every position costs the same. Every method is warmed once untimed, then ``--repeats``
interleaved rounds; medians of process CPU seconds and wall seconds (the machine may be
shared: CPU time is the steadier figure). Samples/s are clip samples x batch / seconds.
"""

import argparse
import os
import statistics
import sys

import numpy as np

from image_sampling_cpu import timed, write_results

R9Y9 = dict(num_stacks=2, layers_per_stack=10, residual_channels=64, dilation_channels=64, skip_channels=64,
            kernel_size=2, num_levels=256)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length1", type=int, default=8000, help="samples per clip at batch 1")
    parser.add_argument("--length16", type=int, default=2000, help="samples per clip at batch 16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-positions", type=int, default=8)
    parser.add_argument("--out", default=None, help="results file stem under bench/results/")
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: a 2 x 3-layer r9y9-width model only, batches 1 and 2, 32 samples")
    args = parser.parse_args(argv)

    import tfar
    from tfar import zoo
    from tfar.models import WaveNet
    from tfar.sampling.loop import sample_fast, sample_naive

    results = {"command": " ".join(["python"] + sys.argv), "tfar_source": os.path.dirname(tfar.__file__),
               "repeats": args.repeats, "naive_positions": args.naive_positions, "cpu_count": os.cpu_count(),
               "loadavg_start": os.getloadavg(), "runs": {}}
    if args.quick:
        configs, sizes = {"r9y9": WaveNet(**dict(R9Y9, layers_per_stack=3))}, ((1, 32), (2, 32))
    else:
        configs, sizes = {"zoo": zoo.load("wavenet"), "r9y9": WaveNet(**R9Y9)}, ((1, args.length1), (16, args.length16))
    for config, model in configs.items():
        model.build()
        seed = model._seed(1)
        for batch, length in sizes:
            k = min(args.naive_positions, length)
            functions = {
                "fast": lambda: sample_fast(model, batch, seed, 1.0, length=length),
                "naive": lambda: sample_naive(model, batch, seed, 1.0, length=length, stop=k),
            }
            runs = timed(functions, args.repeats)
            entry = {"config": model.get_config() if config == "r9y9" else "zoo wavenet",
                     "receptive_field": int(model.receptive_field), "batch": batch, "length": length}
            for method, (cpu, wall, _, warm, *notes) in runs.items():
                scale = length / k if method == "naive" else 1.0
                cpu_s, wall_s = statistics.median(cpu) * scale, statistics.median(wall) * scale
                entry[method] = {"cpu_seconds": round(cpu_s, 3), "wall_seconds": round(wall_s, 3),
                                 "samples_per_cpu_second": round(batch * length / cpu_s),
                                 "samples_per_wall_second": round(batch * length / wall_s),
                                 "cpu_runs": [round(c, 3) for c in cpu], "wall_runs": [round(w, 3) for w in wall],
                                 "warmup_cpu_seconds": round(warm, 3)}
                if method == "naive":
                    entry[method]["extrapolated_from_positions"] = k
                if notes:
                    entry[method]["nondeterministic"] = notes
            fast, naive = runs["fast"][2], runs["naive"][2]
            entry["identical_on_naive_positions"] = bool(np.array_equal(fast[:, :k], naive[:, :k]))
            entry["naive_over_fast_cpu"] = round(entry["naive"]["cpu_seconds"] / entry["fast"]["cpu_seconds"], 1)
            results["runs"][f"{config}_batch{batch}"] = entry
            print(f"{config:<5} batch {batch:>2} x {length} samples: fast {entry['fast']['samples_per_wall_second']:>7} "
                  f"samples/s wall ({entry['fast']['samples_per_cpu_second']} per CPU s), naive "
                  f"{entry['naive']['samples_per_wall_second']} samples/s wall; naive/fast {entry['naive_over_fast_cpu']}x "
                  f"CPU; identical {entry['identical_on_naive_positions']}", flush=True)
    write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()

"""Fast (cached step) against naive sampling for every image model of the zoo, in process CPU time.

    nice -n 5 python bench/image_sampling_cpu.py --tag after
    PYTHONPATH=/tmp/before nice -n 5 python bench/image_sampling_cpu.py --tag before   # an older checkout

The machine this runs on is shared (other jobs on the same cores), so wall time says little;
this script times each call in CPU seconds of this process (all its threads,
``time.process_time``) as well as wall seconds. All methods run in one process, each warmed
once untimed (tracing, XLA compilation), then ``--repeats`` interleaved timed rounds; medians.

Per model (zoo architecture, untrained weights: the cost does not depend on the weights), at
``--batch`` images, conditional on labels ``i % classes``:

* ``fast_xla``: the fast sampler compiled by XLA (``jit_compile=True``), the whole image;
* ``fast_tf``: the fast sampler without XLA (``jit_compile=False``), the whole image;
* ``naive``: the naive sampler (the full network on the whole canvas per position) for the
  first ``--naive-positions`` positions on the full canvas; every position costs the same, so
  the whole image is that per-position cost times the number of positions (extrapolated).

``identical`` says that fast_xla and fast_tf drew the same image and that both agree with the
naive sampler on the positions it drew. Results go to ``bench/results/<--out>.json`` with the
command line and the tfar source that was imported.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

MODELS = ("pixelcnn", "gated_pixelcnn", "pixelcnn_pp", "pixelrnn_row_lstm", "pixelrnn_diagonal_bilstm")


def timed(functions, repeats):
    """{name: ([cpu seconds], [wall seconds], result, warm-up cpu seconds)}: one warm-up, then interleaved rounds."""
    out = {name: [[], [], None, None] for name in functions}  # + notes on runs that disagree with round 0
    for round_ in range(repeats + 1):
        for name, fn in functions.items():
            cpu, wall = time.process_time(), time.perf_counter()
            result = np.asarray(fn())
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if out[name][2] is not None and not np.array_equal(out[name][2], result):
                out[name].append(f"round {round_} differs from round 0 at {np.argwhere(out[name][2] != result)[:3].tolist()}")
            if out[name][2] is None:
                out[name][2] = result
            if round_ == 0:
                out[name][3] = cpu
            else:
                out[name][0].append(cpu)
                out[name][1].append(wall)
    return out


def write_results(results, stem):
    """Record the load average at the end and write ``results`` to bench/results/<stem>.json (if ``stem``)."""
    results["loadavg_end"] = os.getloadavg()
    if stem:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{stem}.json")
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
        print(f"-> {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-positions", type=int, default=16)
    parser.add_argument("--tag", default="", help="a label stored with the results (e.g. before/after)")
    parser.add_argument("--out", default=None, help="results file stem under bench/results/")
    args = parser.parse_args(argv)

    import tensorflow as tf

    import tfar
    from tfar import models, zoo
    from tfar.sampling.loop import sample_fast, sample_naive

    results = {"command": " ".join(["python"] + sys.argv), "tag": args.tag, "tfar_source": os.path.dirname(tfar.__file__),
               "batch": args.batch, "repeats": args.repeats, "naive_positions": args.naive_positions,
               "cpu_count": os.cpu_count(), "loadavg_start": os.getloadavg(), "models": {}}
    print(f"tfar from {results['tfar_source']}", flush=True)
    for name in args.models:
        record = zoo.info(name)
        model = getattr(models, record["class"])(**record["config"])
        model.build()
        n = model.num_positions()
        labels = tf.constant([i % model.num_classes for i in range(args.batch)], tf.int32)
        seed = model._seed(1)
        k = min(args.naive_positions, n)
        functions = {
            "fast_xla": lambda: sample_fast(model, args.batch, seed, 1.0, labels, jit_compile=True),
            "fast_tf": lambda: sample_fast(model, args.batch, seed, 1.0, labels, jit_compile=False),
            "naive": lambda: sample_naive(model, args.batch, seed, 1.0, labels, stop=k),
        }
        runs = timed(functions, args.repeats)
        entry = {"class": record["class"], "config": record["config"], "positions": n,
                 "default_sampling_jit_compile": bool(getattr(model, "sampling_jit_compile", False))}
        for method, (cpu, wall, _, warm, *notes) in runs.items():
            scale = n / k if method == "naive" else 1.0
            entry[method] = {"cpu_seconds": round(statistics.median(cpu) * scale, 3),
                             "wall_seconds": round(statistics.median(wall) * scale, 3),
                             "cpu_runs": [round(c, 3) for c in cpu], "wall_runs": [round(w, 3) for w in wall],
                             "warmup_cpu_seconds": round(warm, 3),
                             "cpu_us_per_step": round(1e6 * statistics.median(cpu) / (k if method == "naive" else n), 1)}
            if method == "naive":
                entry[method]["extrapolated_from_positions"] = k
            if notes:
                entry[method]["nondeterministic"] = notes
        xla, plain, naive = (runs[m][2] for m in ("fast_xla", "fast_tf", "naive"))
        entry["identical"] = bool(np.array_equal(xla, plain) and np.array_equal(xla[:, :k], naive[:, :k])
                                  and not any(len(run) > 4 for run in runs.values()))
        if not entry["identical"]:
            entry["differences"] = {"fast_xla_vs_fast_tf": np.argwhere(xla != plain)[:3].tolist(),
                                    "fast_xla_vs_naive": np.argwhere(xla[:, :k] != naive[:, :k])[:3].tolist()}
        for method in ("fast_xla", "fast_tf"):
            entry[f"naive_over_{method}_cpu"] = round(entry["naive"]["cpu_seconds"] / entry[method]["cpu_seconds"], 2)
        results["models"][name] = entry
        print(f"{name:<26} cpu s/image-batch: fast_xla {entry['fast_xla']['cpu_seconds']:8.2f}  "
              f"fast_tf {entry['fast_tf']['cpu_seconds']:8.2f}  naive {entry['naive']['cpu_seconds']:9.1f}  "
              f"(us/step {entry['fast_xla']['cpu_us_per_step']} / {entry['fast_tf']['cpu_us_per_step']} / "
              f"{entry['naive']['cpu_us_per_step']})  identical {entry['identical']}", flush=True)
    write_results(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

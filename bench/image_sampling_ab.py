"""The cached image steps of an older commit against the current ones, in one process, in CPU time.

    nice -n 5 python bench/image_sampling_ab.py --before 7e294fa --repeats 5

On a shared machine the load changes from one process to the next, so comparing two runs of
``image_sampling_cpu.py`` mixes the change with the load. This script imports the model modules
of commit ``--before`` (``git show``; the files in ``FILES``, which import each other and
otherwise the current tfar) as package ``tfar_before`` next to the current ones, gives both
versions of each model the same weights, and times their fast samplers interleaved: one
warm-up (tracing, XLA compilation), then ``--repeats`` rounds, medians of process CPU seconds
(``time.process_time``: all threads) and wall seconds. It also checks that both versions draw
identical images. Results: ``bench/results/<--out>.json`` with this command.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {"masked_conv2d": "tfar/layers/masked_conv2d.py", "pixelcnn": "tfar/models/pixelcnn.py",
         "gated_pixelcnn": "tfar/models/gated_pixelcnn.py", "pixelrnn": "tfar/models/pixelrnn.py",
         "pixelcnn_pp": "tfar/models/pixelcnn_pp.py", "image_step": "tfar/models/image_step.py"}  # the last if present
MODELS = ("pixelcnn", "gated_pixelcnn", "pixelcnn_pp", "pixelrnn_row_lstm", "pixelrnn_diagonal_bilstm")
MODULE_OF = {"PixelCNN": "pixelcnn", "GatedPixelCNN": "gated_pixelcnn", "PixelCNNPlusPlus": "pixelcnn_pp",
             "RowLSTM": "pixelrnn", "DiagonalBiLSTM": "pixelrnn"}


def import_before(rev, folder=None):
    """The model modules of commit ``rev`` (or of the checkout ``folder``) as package ``tfar_before``
    (their tfar imports of each other rewired)."""
    source_folder = folder
    folder = tempfile.mkdtemp(prefix="tfar_before_")
    os.makedirs(os.path.join(folder, "tfar_before"))
    open(os.path.join(folder, "tfar_before", "__init__.py"), "w").close()
    for name, path in FILES.items():
        if source_folder:
            if not os.path.exists(os.path.join(source_folder, path)):
                continue
            with open(os.path.join(source_folder, path)) as f:
                source = f.read()
        else:
            shown = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{path}"], capture_output=True, text=True)
            if shown.returncode:
                continue
            source = shown.stdout
        source = source.replace("from tfar.layers import MaskedConv2D", "from tfar_before.masked_conv2d import MaskedConv2D")
        source = re.sub(r"from tfar\.(layers|models)\.(masked_conv2d|pixelcnn|gated_pixelcnn|pixelrnn|pixelcnn_pp|image_step) import",
                        r"from tfar_before.\2 import", source)
        source = source.replace('package="tfar"', 'package="tfar_before"')
        with open(os.path.join(folder, "tfar_before", f"{name}.py"), "w") as f:
            f.write(source)
    sys.path.insert(0, folder)
    import importlib
    return {name: importlib.import_module(f"tfar_before.{name}") for name in FILES
            if os.path.exists(os.path.join(folder, "tfar_before", f"{name}.py"))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--before", default="7e294fa", help="the older commit (default: %(default)s)")
    parser.add_argument("--before-dir", default=None,
                        help="take the older model modules from this checkout instead (e.g. a variant under test)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="image_sampling_ab")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from tfar import models, zoo
    from tfar.sampling.loop import sample_fast

    before = import_before(args.before, args.before_dir)
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--short", "tfar/"], capture_output=True, text=True).stdout
    results = {"command": " ".join(["python"] + sys.argv), "before": args.before_dir or args.before, "after": f"HEAD {head.strip()}"
               + (" + uncommitted changes in tfar/" if dirty.strip() else ""), "batch": args.batch,
               "repeats": args.repeats, "loadavg_start": os.getloadavg(), "models": {}}
    for name in args.models:
        record = zoo.info(name)
        new = getattr(models, record["class"])(**record["config"])
        old = getattr(before[MODULE_OF[record["class"]]], record["class"])(**record["config"])
        new.build(), old.build()
        old.set_weights(new.get_weights())
        n = new.num_positions()
        labels = tf.constant([i % new.num_classes for i in range(args.batch)], tf.int32)
        seed = new._seed(1)
        functions = {f"{version}_{mode}": (lambda m=m, jit=jit: sample_fast(m, args.batch, seed, 1.0, labels,
                                                                            jit_compile=jit))
                     for version, m in (("before", old), ("after", new)) for mode, jit in (("xla", True), ("tf", False))}
        cpu, wall, out, warm = ({k: [] for k in functions} for _ in range(4))
        for round_ in range(args.repeats + 1):
            for key, fn in functions.items():
                c, w = time.process_time(), time.perf_counter()
                result = fn().numpy()
                c, w = time.process_time() - c, time.perf_counter() - w
                out[key].append(result)
                (warm[key] if round_ == 0 else cpu[key]).append(c)
                if round_:
                    wall[key].append(w)
        reference = out["after_xla"][0]
        entry = {"positions": n, "identical": bool(all(np.array_equal(reference, r) for rs in out.values() for r in rs))}
        for key in functions:
            entry[key] = {"cpu_seconds": round(statistics.median(cpu[key]), 3),
                          "wall_seconds": round(statistics.median(wall[key]), 3),
                          "cpu_us_per_step": round(1e6 * statistics.median(cpu[key]) / n, 1),
                          "cpu_runs": [round(c, 3) for c in cpu[key]], "warmup_cpu_seconds": round(warm[key][0], 3)}
        for mode in ("xla", "tf"):
            entry[f"before_over_after_{mode}_cpu"] = round(entry[f"before_{mode}"]["cpu_seconds"]
                                                           / entry[f"after_{mode}"]["cpu_seconds"], 2)
        entry["before_tf_over_after_xla_cpu"] = round(entry["before_tf"]["cpu_seconds"] / entry["after_xla"]["cpu_seconds"], 2)
        results["models"][name] = entry
        print(f"{name:<26} cpu us/step (batch {args.batch}): before xla {entry['before_xla']['cpu_us_per_step']:7.1f} "
              f"tf {entry['before_tf']['cpu_us_per_step']:7.1f} | after xla {entry['after_xla']['cpu_us_per_step']:7.1f} "
              f"tf {entry['after_tf']['cpu_us_per_step']:7.1f}  identical {entry['identical']}", flush=True)
    results["loadavg_end"] = os.getloadavg()
    path = os.path.join(ROOT, "bench", "results", f"{args.out}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"-> {path}")
    return 0 if all(e["identical"] for e in results["models"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""A few-minute tour of tfar: train a small PixelCNN on Fashion-MNIST, evaluate, sample, then the zoo.

    python -m tfar.demo [--out runs/demo]

Uses the full Fashion-MNIST (60,000/10,000 images) when its original files are
installed (Debian package ``dataset-fashion-mnist``), else the 2,000/500-image
sample shipped inside tfar. Trains a small PixelCNN (van den Oord et al. 2016)
for a fixed budget of optimizer steps, reports exact test bits/dim over the whole
test split and writes a grid of samples. Everything goes through the ``tfar`` CLI
(:mod:`tfar.cli`), so the printed commands reproduce each stage. Rerunning
resumes (or, once finished, reuses) the run in ``--out``; ``--fresh`` starts over.

Then it draws from the pretrained zoo entry ``gated_pixelcnn`` (hours of training): a
row per class and completions of the bottom halves of real test images, and writes
``OUT/demo.png`` with the quick model's samples beside the zoo's.
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import time

from tfar.training.callbacks import TimeBudget

DEFAULT_OUT = os.path.join("runs", "demo")
# Small enough to train a visible amount in 2-3 minutes on 2 CPU cores.
MODEL_CONFIG = {"filters": 32, "num_residual_blocks": 3, "output_filters": 64}
EPOCHS = 4
STEPS_PER_EPOCH = 225
BATCH_SIZE = 64
MAX_TRAIN_SECONDS = 160  # cap on model.fit wall time: on a busy machine training stops early
ZOO_ENTRY = "gated_pixelcnn"  # the zoo entry the README shows first
ZOO_PER_CLASS = 8  # zoo samples per class row
COMPLETIONS = 8  # real test images whose bottom halves the zoo model completes
SEED = 0


def full_data_available():
    """True when the original Fashion-MNIST IDX files are in the Debian location."""
    from tfar.data import builders, dataset_info

    return not builders.missing_idx_files(dataset_info("fashion_mnist")["default_dir"])


def _run(argv, extra_callbacks=None):
    """Run one `tfar` command in-process, echoing it; exit on failure."""
    from tfar import cli

    print(f"\n$ tfar {shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    status = cli.main(argv, extra_callbacks=extra_callbacks)
    if status:
        sys.exit(status)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tfar.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="run folder (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="default: %(default)s")
    parser.add_argument("--steps-per-epoch", type=int, default=STEPS_PER_EPOCH, help="default: %(default)s")
    parser.add_argument("--source", choices=("auto", "full", "embedded"), default=None,
                        help="data source (default: full if the Debian files exist, else embedded)")
    parser.add_argument("--max-train-seconds", type=float, default=MAX_TRAIN_SECONDS,
                        help="stop training early after this much wall time (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="delete the run folder first and train anew")
    parser.add_argument("--zoo-per-class", type=int, default=ZOO_PER_CLASS,
                        help=f"{ZOO_ENTRY} samples per class (default: %(default)s)")
    parser.add_argument("--completions", type=int, default=COMPLETIONS,
                        help="real test images completed by the zoo model (default: %(default)s)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    source = args.source or ("full" if full_data_available() else "embedded")
    what = {"full": "full Fashion-MNIST (60,000 train / 10,000 test)",
            "embedded": "the embedded Fashion-MNIST sample (2,000 train / 500 test)",
            "auto": "Fashion-MNIST (source=auto)"}[source]
    print(f"tfar demo: PixelCNN {MODEL_CONFIG} on {what}; "
          f"{args.epochs} epochs x {args.steps_per_epoch} steps of {BATCH_SIZE} images")
    if args.fresh and os.path.isfile(os.path.join(args.out, "run.json")):
        shutil.rmtree(args.out)

    overrides = [f"{k}={v}" for k, v in MODEL_CONFIG.items()]
    times = {}
    cap = TimeBudget(args.max_train_seconds)
    times["train"] = _run([
        "train", "pixelcnn", "--data", "fashion_mnist", "--source", source, "--out", args.out,
        "--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps_per_epoch),
        "--batch-size", str(BATCH_SIZE), "--set", *overrides,
    ], extra_callbacks=[cap])
    if cap.hit:
        print(f"note: training stopped early after {cap.steps} steps ({args.max_train_seconds:.0f} s cap; "
              "the machine is busy). Rerun with --fresh when it is idle for the full budget.")
    times["eval"] = _run(["eval", args.out, "--source", source])
    grid = os.path.join(args.out, "samples.png")
    times["sample"] = _run(["sample", args.out, "--num", "16", "--out", grid])

    with open(os.path.join(args.out, "eval.json")) as f:
        evaluation = json.load(f)
    zoo_start = time.perf_counter()
    shown = show_zoo(args.out, grid, evaluation, source, args.zoo_per_class, args.completions)
    times["zoo"] = time.perf_counter() - zoo_start
    total = time.perf_counter() - start
    print("\n== tfar demo done ==")
    print(f"test bits/dim:  {evaluation['bits_per_dim']:.4f} quick PixelCNN "
          f"(exact, all {evaluation['num_examples']} test images; uniform guessing gives 8.0)")
    print(f"                {shown['zoo_bits_per_dim']:.4f} zoo {ZOO_ENTRY} "
          f"(its card: all {shown['zoo_test_examples']} test images)")
    print(f"demo picture:   {shown['path']}  (quick model | zoo samples, a row per class | zoo completions)")
    print(f"run folder:     {args.out}  (run.json, checkpoints/, history.csv, eval.json)")
    print(f"sample grid:    {grid}  (one per epoch in {os.path.join(args.out, 'samples')}/)")
    print(f"TensorBoard:    tensorboard --logdir {os.path.join(args.out, 'logs')}")
    print(f"time:           {total:.0f} s (train {times['train']:.0f} s, eval {times['eval']:.0f} s, "
          f"sample {times['sample']:.0f} s, zoo {times['zoo']:.0f} s)")
    return 0


def show_zoo(out, quick_grid, evaluation, source, per_class, completions):
    """Draw from the pretrained zoo entry and write OUT/demo.png beside the quick model's grid.

    Returns what it also writes to OUT/demo.json: the PNG's path, each panel's [top, left,
    height, width] in it, the seed and counts, and both models' test bits/dim.
    """
    import numpy as np
    from PIL import Image

    from tfar import visualize, zoo
    from tfar.cli import common

    print(f"\n$ python: tfar.zoo.load({ZOO_ENTRY!r}): {per_class} samples per class and "
          f"{completions} completions of real test images", flush=True)
    model = zoo.load(ZOO_ENTRY)
    metrics = zoo.info(ZOO_ENTRY)["metrics"]
    labels = np.repeat(np.arange(model.num_classes, dtype=np.int32), per_class)
    samples = np.asarray(model.sample(len(labels), condition=labels, seed=SEED))
    dataset = common.image_dataset("fashion_mnist", "test", completions, model.num_classes, source,
                                   limit=completions, num_levels=model.num_levels)
    originals, test_labels = common.first_examples(dataset, completions)
    rows = model.event_shape[0] // 2
    completed = np.asarray(model.sample(len(originals), condition=test_labels, prefix=originals[:, :rows],
                                        seed=SEED))
    pairs = np.stack([originals, completed], axis=1).reshape(-1, *completed.shape[1:])
    quick = np.asarray(Image.open(quick_grid).convert("L"))[..., None]
    panels = [quick, visualize.image_grid(samples, model.num_levels, ncols=per_class),
              visualize.image_grid(pairs, model.num_levels, ncols=2)]
    captions = [f"quick PixelCNN: {evaluation['bits_per_dim']:.3f} bits/dim",
                f"zoo {ZOO_ENTRY}: {metrics['test_bits_per_dim']:.3f} bits/dim\na row per class",
                "zoo: test image | its\nbottom half completed"]
    picture, boxes = visualize.side_by_side(panels, captions)
    path = visualize.save_png(os.path.join(out, "demo.png"), picture)
    shown = {"path": path, "panels": ["quick", ZOO_ENTRY + " samples", ZOO_ENTRY + " completions"],
             "boxes": [[int(t), int(left), int(p.shape[0]), int(p.shape[1])] for (t, left), p in zip(boxes, panels)],
             "seed": SEED, "zoo_per_class": per_class, "completions": int(len(originals)),
             "quick_bits_per_dim": evaluation["bits_per_dim"], "zoo_bits_per_dim": metrics["test_bits_per_dim"],
             "zoo_test_examples": metrics["test_examples"]}
    with open(os.path.join(out, "demo.json"), "w") as f:  # where each panel is: [top, left, height, width]
        json.dump(shown, f, indent=1)
    return shown


if __name__ == "__main__":
    sys.exit(main())

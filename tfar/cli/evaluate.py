"""``tfar eval RUN``: exact bits/dim (images) or nats/sample (audio) over a whole split.

The figure is written to ``RUN/eval.json`` (see :mod:`tfar.evaluation` for the maths).
The default split is "test": this is the one place the test split is read.
"""

import math
import os

from tfar.cli import common


def add_parser(commands):
    evaluate = commands.add_parser(
        "eval", help="bits/dim (audio: nats and bits per sample) of a model on a whole split",
        description="Exact bits/dim over a whole split (default: test); written to RUN/eval.json. "
                    "Audio models: nats and bits per sample over every sample of every file of the split "
                    "(each file scored whole), next to the uniform baseline ln(num_levels).",
    )
    evaluate.add_argument("run", help="run folder written by `tfar train`, or a zoo name (pretrained weights)")
    evaluate.add_argument("--data", default=None,
                          help="dataset name, or a folder/glob of WAV files for audio (default: the run's)")
    evaluate.add_argument("--split", default="test", choices=("train", "validation", "test"),
                          help="default: %(default)s")
    evaluate.add_argument("--limit", type=common.POSITIVE_INT, default=None,
                          help="only the first N examples (audio: files)")
    evaluate.add_argument("--batch-size", type=common.POSITIVE_INT, default=128, help="default: %(default)s")
    evaluate.add_argument("--source", choices=common.SOURCES, default=None, help="default: the run's")
    evaluate.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    evaluate.add_argument("--out", default=None,
                          help="JSON path for the result (default: RUN/eval.json; a zoo name writes only with --out)")
    evaluate.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="1 shows a progress bar")
    evaluate.set_defaults(func=run)


def run(args):
    from tfar import zoo
    from tfar.evaluation import evaluate_bits_per_dim
    from tfar.training import run as run_lib

    model, info, run_dir = common.load_model(args.run, args.weights)
    out = args.out or (os.path.join(run_dir, run_lib.EVAL_FILE) if run_dir else None)
    if zoo.is_audio(model):
        return _run_audio(args, model, info, out)
    data_name = args.data or info["data"]["name"]
    source = args.source or info["data"].get("source", "auto")
    dataset = common.image_dataset(data_name, args.split, args.batch_size, model.num_classes, source,
                                   limit=args.limit, num_levels=model.num_levels)
    bits, count = evaluate_bits_per_dim(model, dataset, verbose=args.verbose)
    record = {
        "bits_per_dim": bits, "num_examples": count, "data": data_name, "split": args.split, "source": source,
        "limit": args.limit, "weights": args.weights, "when": run_lib.now(),
    }
    where = f" -> {common.write_json(out, record)}" if out else ""
    print(f"{args.split} bits/dim: {bits:.4f} ({count} examples of {data_name}){where}")
    return 0


def _run_audio(args, model, info, out):
    from tfar.data import audio
    from tfar.evaluation import evaluate_audio
    from tfar.training import run as run_lib

    path = args.data or info["data"].get("name")
    if not path:
        raise common.CommandError(f"--data FOLDER_OR_GLOB of WAV files is needed to evaluate {args.run!r}")
    settings = common.audio_settings(info)
    waves, rate, names = audio.load_corpus(
        path, sample_rate=settings["sample_rate"], split=args.split, holdout_fraction=settings["holdout_fraction"],
        validation_fraction=settings["validation_fraction"], trim_threshold=settings["trim_threshold"],
    )
    if args.limit:
        waves, names = waves[: args.limit], names[: args.limit]
    nats, count = evaluate_audio(model, waves, verbose=args.verbose)
    baseline = math.log(model.num_levels)
    record = {
        "nats_per_sample": nats, "bits_per_sample": nats / math.log(2.0), "bits_per_dim": nats / math.log(2.0),
        "uniform_baseline_nats": baseline, "uniform_baseline_bits": math.log2(model.num_levels),
        "num_samples": count, "num_files": len(waves), "files": names, "data": path, "split": args.split,
        "sample_rate": rate, "holdout_fraction": settings["holdout_fraction"],
        "validation_fraction": settings["validation_fraction"], "limit": args.limit, "weights": args.weights,
        "when": run_lib.now(),
    }
    where = f" -> {common.write_json(out, record)}" if out else ""
    print(f"{args.split}: {nats:.4f} nats/sample = {record['bits_per_sample']:.4f} bits/sample over {count} samples "
          f"of {len(waves)} files (uniform baseline ln({model.num_levels}) = {baseline:.4f} nats = "
          f"{record['uniform_baseline_bits']:.4f} bits){where}")
    return 0

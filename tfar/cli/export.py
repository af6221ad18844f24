"""``tfar export SOURCE --out DIR --format saved_model|onnx|both``.

SOURCE is a run folder written by ``tfar train`` (it holds ``run.json``) or a zoo
entry name. The layout under DIR is ready for TF Serving:

    DIR/<version>/   SavedModel (saved_model.pb, variables/, tfar_export.json)
    DIR/onnx/        log_prob.onnx, step.onnx, initial_state.onnx, tfar_export.json

so ``DIR`` is the ``base_path`` of a TF Serving model (see export/models.config).
"""

import argparse
import os

from tfar.cli.common import POSITIVE_INT, add_model_source_arguments, parse_overrides

# tfar.export.request_checks.DEFAULT_LIMITS, repeated so that `tfar --help` imports no TensorFlow
# (tests/test_export_serving.py checks the two agree)
HELP_DEFAULTS = {"max_num_samples": 64, "max_length": 160_000, "max_batch_size": 256}

FORMATS = ("saved_model", "onnx", "both")


def add_parser(commands):
    export = commands.add_parser(
        "export", help="export a run folder or zoo entry to SavedModel (TF Serving) and/or ONNX",
        description="Export a run folder (its best weights) or a zoo entry to a TF Serving SavedModel "
                    "and/or ONNX files.",
    )
    add_export_arguments(export)
    export.set_defaults(func=run)


def add_export_arguments(parser):
    """Add the ``export`` arguments to an argparse (sub)parser."""
    parser.add_argument("source", help="run folder written by `tfar train`, or a zoo entry name")
    parser.add_argument("--out", required=True, help="output folder (the TF Serving base_path of the model)")
    parser.add_argument("--format", choices=FORMATS, default="both", help="default: %(default)s")
    parser.add_argument("--version", type=int, default=1, help="TF Serving version subfolder (default: %(default)s)")
    add_model_source_arguments(
        parser, weights_help="which weights of a run folder (default: %(default)s)",
        untrained_help="zoo entry with freshly initialised weights (for trying the serving setup)",
        set_help="zoo entry config overrides (JSON values), e.g. filters=32 image_shape=[7,7,1]")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="write into non-empty output folders")
    limits = parser.add_argument_group(
        "request limits of the SavedModel (recorded in tfar_export.json; a request over one gets InvalidArgument)")
    limits.add_argument("--max-num-samples", type=POSITIVE_INT, default=None, metavar="N",
                        help=f"most samples per sample request (default {HELP_DEFAULTS['max_num_samples']})")
    limits.add_argument("--max-length", type=POSITIVE_INT, default=None, metavar="SAMPLES",
                        help=f"audio models: most samples per sequence in sample and log_prob requests "
                             f"(default {HELP_DEFAULTS['max_length']})")
    limits.add_argument("--max-batch-size", type=POSITIVE_INT, default=None, metavar="N",
                        help=f"most examples per log_prob, initial_state or step request "
                             f"(default {HELP_DEFAULTS['max_batch_size']})")
    parser.add_argument("--no-warmup", action="store_true",
                        help="do not write assets.extra/tf_serving_warmup_requests")
    parser.add_argument("--xla-sample", action="store_true",
                        help="add a sample_xla signature (model.sample's XLA-compiled loop, several times faster); "
                             "only a TF Serving started with --xla_cpu_compilation_enabled runs it")
    return parser


def build_parser():
    parser = argparse.ArgumentParser(prog="tfar export", description="Export a model to SavedModel and/or ONNX.")
    return add_export_arguments(parser)


def load_source(source, weights="best", untrained=False, overrides=None):
    """(model, metadata) for a run folder or a zoo entry name."""
    from tfar import zoo
    from tfar.training import run as run_lib

    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, run_lib.RUN_FILE)):
        raise ValueError(f"{source!r} is a folder but not a run folder (no {run_lib.RUN_FILE})")
    if not os.path.isdir(source) and source not in zoo.list_models():
        raise ValueError(
            f"{source!r} is neither a run folder nor a zoo entry; zoo entries: {', '.join(zoo.list_models())}"
        )
    model, info, run_dir = run_lib.load_model(source, weights, pretrained=not untrained, overrides=overrides)
    if run_dir is not None:
        return model, {"source": {"run": os.path.abspath(source), "weights": weights, "zoo_name": info.get("model")}}
    return model, {"source": {"zoo_name": source, "pretrained": not untrained, "overrides": overrides or {}}}


def run(args):
    """Run ``tfar export``; ``args`` is an argparse Namespace or a list of strings. Returns 0."""
    from tfar.export.onnx_graphs import onnx
    from tfar.export.saved_model_signatures import check_dir, saved_model

    if args is None or isinstance(args, (list, tuple)):
        args = build_parser().parse_args(args)
    if args.format not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {args.format!r}")
    if args.version < 1:
        raise ValueError(f"--version must be a positive int, got {args.version}")
    if args.format in ("onnx", "both"):
        try:
            import tf2onnx  # noqa: F401
        except ImportError:
            raise ValueError(f"--format {args.format} needs tf2onnx: pip install 'tfar[onnx]'") from None
    sm_dir, onnx_dir = os.path.join(args.out, str(args.version)), os.path.join(args.out, "onnx")
    if args.format in ("saved_model", "both"):
        check_dir(sm_dir, args.overwrite)
    if args.format in ("onnx", "both"):
        check_dir(onnx_dir, args.overwrite)
    model, metadata = load_source(args.source, args.weights, args.untrained, parse_overrides(args.set))
    if args.format in ("saved_model", "both"):
        path = saved_model(model, sm_dir, overwrite=args.overwrite, metadata=metadata,
                           max_num_samples=args.max_num_samples, max_length=args.max_length,
                           max_batch_size=args.max_batch_size, warmup=not args.no_warmup,
                           xla_sample=args.xla_sample)
        extra = ", sample_xla (XLA)" if args.xla_sample else ""
        print(f"SavedModel (signatures log_prob, sample, initial_state, step{extra}) -> {path}")
    if args.format in ("onnx", "both"):
        paths = onnx(model, onnx_dir, opset=args.opset, overwrite=args.overwrite, metadata=metadata)
        print(f"ONNX -> {paths['log_prob']}, {paths['step']}")
    return 0

"""The ``tfar`` command line: train, evaluate and sample zoo models; export them; browse the zoo.

    tfar train pixelcnn --data fashion_mnist --epochs 10 --out runs/pixelcnn
    tfar eval runs/pixelcnn
    tfar sample runs/pixelcnn --num 16 --out grid.png
    tfar vocode wavenet_vocoder --wav IN.wav --out OUT.wav
    tfar export runs/pixelcnn --out serving/pixelcnn
    tfar zoo list | tfar zoo info pixelcnn
    tfar bench

One module per command (:mod:`tfar.cli.train`, ...), each with ``add_parser`` and
``run``; :mod:`tfar.cli.common` holds what they share. Audio models (WaveNet) train on
a folder or glob of WAV files and write WAV clips. A run folder (see
:mod:`tfar.training.run`) records everything needed to rebuild its model, so ``eval``
and ``sample`` take only the folder.

TensorFlow's C++ start-up log is silenced before TensorFlow is imported (``--verbose-tf``
shows it). Errors in the arguments (unknown model, bad config value, missing run
folder) print one line and exit with status 2 (set TFAR_DEBUG=1 for the traceback).
"""

import argparse
import os
import sys

EXIT_USAGE = 2
COMMANDS = ("train", "evaluate", "sample", "vocode", "export", "bench", "zoo")


def build_parser():
    import importlib

    from tfar.cli.common import CommandError  # noqa: F401 - re-exported below

    parser = argparse.ArgumentParser(
        prog="tfar", description="Train, evaluate and sample tfar autoregressive models.",
        epilog="Run `tfar COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--verbose-tf", action="store_true",
                        help="show TensorFlow's C++ log (device set-up, CUDA probing); hidden by default")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMANDS:
        importlib.import_module(f"tfar.cli.{name}").add_parser(commands)
    return parser


def _start_tensorflow_quietly():
    """Import TensorFlow and probe its devices with the C++ log silenced.

    TensorFlow prints its start-up lines (oneDNN notice, CUDA probing, "failed call to
    cuInit" on a machine without a GPU) to file descriptor 2 before its log level
    applies, so stderr is pointed at /dev/null for the import and the device probe
    only. Commands that need no TensorFlow (``tfar zoo``) never import it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery, where the CUDA probing happens
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None, extra_callbacks=None):
    """Run the CLI; returns the exit status. ``extra_callbacks`` are appended in `train` (for tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    browsing = args.command == "zoo" and args.zoo_command in ("list", "info")
    if not browsing and not args.verbose_tf and "tensorflow" not in sys.modules:
        _start_tensorflow_quietly()
    args.extra_callbacks = extra_callbacks
    try:
        return args.func(args) or 0
    except ValueError as error:
        if os.environ.get("TFAR_DEBUG"):
            raise
        print(f"tfar {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = "; rerun the same command to resume after the last finished epoch" if args.command == "train" else ""
        print(f"tfar {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


def __getattr__(name):
    if name == "CommandError":
        from tfar.cli.common import CommandError

        return CommandError
    raise AttributeError(f"module 'tfar.cli' has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())

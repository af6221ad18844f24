"""What the ``tfar`` commands share: the user-facing error, argument types, datasets, model lookup.

Argument types wrap :mod:`tfar.arg_checks`, so the command line and the Python API
accept and refuse the same values with the same wording.
"""

import argparse
import json
import math
import os

from tfar import arg_checks

DEFAULT_IMAGE_DATA = "fashion_mnist"
# How audio is read when a run or zoo entry does not say otherwise (the zoo's WaveNet: 8 kHz speech).
AUDIO_DEFAULTS = {"sample_rate": 8000, "holdout_fraction": 0.05, "validation_fraction": 0.05, "trim_threshold": 0.01}
SOURCES = ("auto", "full", "embedded")


class CommandError(ValueError):
    """A user-facing error: printed without a traceback, exit status 2."""


def _number_check(expected, valid):
    def check(name, value):
        if not valid(value):
            raise ValueError(f"{name} must be {expected}, got {value!r}")
        return value

    return check


def arg_type(check, parse=int):
    """An argparse type: ``parse`` the text, then apply a check ``check(name, value)`` of :mod:`tfar.arg_checks`."""

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an int' if parse is int else 'a number'}, got {text!r}")
        try:
            return check("value", value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).replace("value must be", "expected")) from None

    return convert


POSITIVE_INT = arg_type(arg_checks.positive_int)
NON_NEGATIVE_INT = arg_type(arg_checks.non_negative_int)
FRACTION = arg_type(arg_checks.rate_in_unit_interval, float)
POSITIVE_FLOAT = arg_type(_number_check("a positive number", lambda v: 0 < v < math.inf), float)
NON_NEGATIVE_FLOAT = arg_type(_number_check("a number >= 0", lambda v: 0 <= v < math.inf), float)


def add_model_source_arguments(parser, weights_help, untrained_help, set_help):
    """``--weights``, ``--untrained`` and ``--set``: which weights of a run folder or zoo entry to load."""
    parser.add_argument("--weights", choices=("best", "last"), default="best", help=weights_help)
    parser.add_argument("--untrained", action="store_true", help=untrained_help)
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help=set_help)


def parse_overrides(pairs):
    """["filters=8", "image_shape=[7,7,1]"] -> {"filters": 8, "image_shape": [7, 7, 1]} (JSON values, else strings)."""
    overrides = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--set expects key=value, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[key.strip()] = value
    return overrides


def data_label(data):
    """A short name for a dataset name, folder or glob (for the default run folder)."""
    path = os.path.normpath(data)
    while any(c in os.path.basename(path) for c in "*?[") and os.path.dirname(path):
        path = os.path.dirname(path)
    name = os.path.basename(path)
    return "audio" if not name or any(c in name for c in "*?[") else name


def image_dataset(name, split, batch_size, num_classes, source, limit=None, shuffle=False, repeat=False, seed=0,
                  num_levels=256):
    """A dataset of x (or (x, labels) for a conditional model) from ``tfar.data.load``."""
    import tfar.data

    return tfar.data.load(
        name, split=split, batch_size=batch_size, num_levels=num_levels, with_labels=num_classes is not None,
        shuffle=shuffle, repeat=repeat, limit=limit, source=source, seed=seed,
    )


def first_examples(dataset, count):
    """The first ``count`` examples of a batched dataset as numpy: (x, labels or None)."""
    import numpy as np

    xs, labels = [], []
    have = 0
    for element in dataset:
        x, y = element if isinstance(element, tuple) else (element, None)
        xs.append(x.numpy())
        if y is not None:
            labels.append(y.numpy())
        have += len(xs[-1])
        if have >= count:
            break
    if not xs:
        raise CommandError("the dataset is empty")
    x = np.concatenate(xs)[:count]
    return x, (np.concatenate(labels)[:count] if labels else None)


def load_model(run_or_name, which="best"):
    """(model, info, run_dir): a run folder, else a zoo entry name with its pretrained weights (run_dir None).

    A zoo entry's info gets the data a run would record: its dataset, or how its audio is read.
    """
    from tfar import zoo
    from tfar.training import run as run_lib

    model, info, run_dir = run_lib.load_model(run_or_name, which)  # zoo entry without weights -> the zoo's ValueError
    if run_dir is None:
        record = zoo.info(run_or_name)
        if zoo.is_audio(model):
            info["data"] = dict(AUDIO_DEFAULTS, **(record.get("audio") or {}), modality="audio", name=None)
        else:
            info["data"] = {"name": record.get("dataset") or DEFAULT_IMAGE_DATA, "source": "auto"}
    return model, info, run_dir


def audio_settings(info):
    """How a run (or zoo entry) reads audio: sample rate, split fractions, trim threshold."""
    data = info.get("data") or {}
    return {key: data.get(key, default) for key, default in AUDIO_DEFAULTS.items()}


def write_json(path, record):
    """Write a small JSON record (sorted keys, trailing newline, folder created); returns path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return path

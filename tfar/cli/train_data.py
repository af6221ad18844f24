"""What ``tfar train`` reads: the data record of a run and its train and validation datasets.

Images: the "train" split for training and the "validation" split (both carved from the
original training files, see :mod:`tfar.data.images`) for choosing checkpoints. Audio: the
train and validation files of three sets chosen by a stable hash of the file name (see
:func:`tfar.data.audio.file_split`). The test split is never read here.
"""

import math
import os

from tfar.cli import common
from tfar.cli.common import CommandError

AUDIO_STEPS_PER_EPOCH = 100


# ------------------------------------------------------------------ config
def train_config(args):
    """(zoo name, constructor overrides, data record) for `tfar train`."""
    import tfar.data
    from tfar import zoo

    record = zoo.info(args.model)  # unknown name -> the zoo's ValueError
    if "test" in args.val_split:
        raise CommandError(f"--val-split {args.val_split!r}: the test split is read once, by `tfar eval`, never to "
                           "choose checkpoints; use the validation split")
    if zoo.is_audio(record):
        return _audio_train_config(args)
    args.data = args.data or common.DEFAULT_IMAGE_DATA
    overrides = common.parse_overrides(args.set)
    info = tfar.data.dataset_info(args.data)
    overrides.setdefault("image_shape", [int(d) for d in info["image_shape"]])
    if info.get("num_levels") is not None and "num_levels" in record["config"]:
        overrides.setdefault("num_levels", int(info["num_levels"]))
    if args.conditional:
        if not info.get("num_classes"):
            raise CommandError(f"--conditional: dataset {args.data!r} has no labels")
        overrides.setdefault("num_classes", int(info["num_classes"]))
    elif "num_classes" in record["config"]:
        overrides.setdefault("num_classes", None)  # a zoo entry may be conditional; train it unconditionally
    data = {
        "name": args.data, "source": args.source, "batch_size": args.batch_size, "limit": args.limit,
        "val_split": args.val_split, "val_limit": args.val_limit, "with_labels": bool(args.conditional),
        "splits": {"train": "train", "validation": args.val_split, "test": "test"},
    }
    return args.model, overrides, data


def _audio_train_config(args):
    """(zoo name, overrides, data record) for an audio model: --data is a folder or glob of WAV files."""
    from tfar.data import audio

    if not args.data:
        raise CommandError(f"{args.model} is an audio model: pass --data FOLDER_OR_GLOB of WAV files")
    if args.conditional:
        raise CommandError("--conditional: audio training on class labels is not supported by the CLI")
    if args.limit is not None:
        raise CommandError("--limit is for image datasets; select audio files with a glob in --data")
    if args.val_split != "validation":
        raise CommandError("--val-split is for image datasets; audio validates on its validation files")
    files = audio.find_audio_files(args.data)  # none -> ValueError naming the path
    sample_rate = args.sample_rate or audio.load_wav(files[0])[1]
    counts = {split: 0 for split in ("train", "validation", "test")}
    for f in files:
        counts[audio.file_split(f, args.holdout_fraction, args.validation_fraction)] += 1
    data = {
        "modality": "audio", "name": os.path.abspath(args.data), "sample_rate": int(sample_rate),
        "segment_length": args.segment_length, "holdout_fraction": args.holdout_fraction,
        "validation_fraction": args.validation_fraction,
        "trim_threshold": common.AUDIO_DEFAULTS["trim_threshold"], "batch_size": args.batch_size,
        "val_limit": args.val_limit, "with_labels": False, "split_files": counts,
    }
    return args.model, common.parse_overrides(args.set), data


# ---------------------------------------------------------------- datasets
def image_datasets(args, data, model, seed):
    """(train repeating forever, validation or None, steps per epoch); records the split sizes in ``data``."""
    import tfar.data

    info = tfar.data.dataset_info(args.data)
    sizes = info["embedded_splits"] if args.source == "embedded" else info["splits"]
    train_size = min(args.limit or sizes["train"], sizes["train"])
    data["split_sizes"] = dict(sizes)
    if args.val_limit != 0 and args.val_split in sizes:
        data["val_examples"] = min(args.val_limit or sizes[args.val_split], sizes[args.val_split])
    steps = args.steps_per_epoch or max(1, train_size // args.batch_size)
    train = common.image_dataset(args.data, "train", args.batch_size, model.num_classes, args.source,
                                 limit=args.limit, shuffle=True, repeat=True, seed=seed, num_levels=model.num_levels)
    validation = None
    if args.val_limit != 0:
        validation = common.image_dataset(args.data, args.val_split, args.batch_size, model.num_classes, args.source,
                                          limit=args.val_limit, num_levels=model.num_levels)
    return train, validation, steps


def audio_datasets(args, data, model, seed):
    """(train segments repeating forever, one fixed segment per validation file or None, steps per epoch)."""
    from tfar.data import audio

    common_args = dict(sample_rate=data["sample_rate"], holdout_fraction=data["holdout_fraction"],
                       validation_fraction=data["validation_fraction"], trim_threshold=data["trim_threshold"],
                       levels=model.num_levels)
    make = audio.audio_dataset
    mel = getattr(model, "features", None)  # a vocoder: (codes, log-mel frames of the whole file) pairs
    if mel is not None:
        if data["sample_rate"] != mel["sample_rate"]:
            raise CommandError(f"--data is read at {data['sample_rate']} Hz but the model's mel front end works at "
                               f"{mel['sample_rate']} Hz; pass --sample-rate {mel['sample_rate']}")
        common_args.pop("sample_rate")

        def make(*args_, **kwargs):
            return audio.audio_mel_dataset(*args_, mel=mel, **kwargs)

    train = make(data["name"], data["segment_length"], args.batch_size, split="train", seed=seed, **common_args)
    steps = args.steps_per_epoch or AUDIO_STEPS_PER_EPOCH
    if args.val_limit == 0:
        return train, None, steps
    try:
        held_out = make(data["name"], data["segment_length"], args.batch_size, split="validation", seed=0,
                        **common_args)
    except ValueError as error:
        raise CommandError(f"{error}; use --val-limit 0 to train without validation") from None
    if args.val_limit:
        # Whole batches keep the cardinality known: keras' evaluate mis-averages the loss
        # of a dataset of unknown cardinality (e.g. after unbatch/take/batch).
        held_out = held_out.take(math.ceil(args.val_limit / args.batch_size))
    return train, held_out, steps


def datasets(args, data, model, seed):
    """(train, validation or None, steps per epoch) for an image or an audio run."""
    make = audio_datasets if data.get("modality") == "audio" else image_datasets
    return make(args, data, model, seed)

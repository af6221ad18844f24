"""Image datasets for tfar as ``tf.data`` pipelines of integer pixels, through TFDS.

``load(name, ...)`` yields int32 images [B, H, W, C] with values in [0, num_levels)
(optionally with int32 labels [B]). Pixels are quantized to ``num_levels`` as
``x * num_levels // 256``, or binarized: "fixed" gives ``x >= 128`` and "dynamic"
draws ``Bernoulli(x / 255)`` afresh on every pass (Salakhutdinov and Murray 2008),
from a seeded stream.

Where the data come from (``source="auto"``), first match wins:

1. the official TFDS dataset already prepared in ``data_dir``;
2. tfar's own TFDS builder (``tfar.data.builders``): prepared data in ``data_dir``,
   or the original files in ``manual_dir`` / ``TFAR_<NAME>_DIR`` / the Debian
   ``dataset-fashion-mnist`` path, prepared once into ``data_dir``;
3. Fashion-MNIST only: the 2,000/500-image sample shipped in ``tfar/data/embedded``;
4. the official TFDS download, when the network answers; else a ValueError that
   says which files to put where.

``source="embedded"`` forces the sample, ``source="full"`` never uses it.

Splits: "train", "validation" and "test" are disjoint and stable. Where the original
files have no validation split, "validation" is the last ``validation_size`` examples of
the original training split (5,000 of them, or a tenth of a smaller one such as the
embedded sample's 2,000) and "train" is the rest. Choose checkpoints and stop early on
"validation"; read "test" once, for the reported figure. Any other TFDS split spec slices the
original files' splits as they are ("train[:100%]" is the whole original training split).
"""

import functools
import importlib.resources
import logging
import os
import socket
import threading
import time

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from etils import epath

from tfar.arg_checks import checked_int, non_negative_int, optional_positive_int
from tfar.data import builders

logger = logging.getLogger(__name__)

DATASETS = ("fashion_mnist", "mnist", "binarized_mnist", "cifar10")
BINARIZE_MODES = ("fixed", "dynamic")
SOURCES = ("auto", "embedded", "full")
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
EMBEDDED_SPLITS = {"train": 2000, "test": 500}  # the shipped files' own splits
VALIDATION_EXAMPLES = 5000
_SHUFFLE_BUFFER = 10_000
_PROBE_TIMEOUT_S = 3.0


def _dataset(name, label_names, license_text, image_shape=(28, 28, 1), splits=None, num_classes=10, num_levels=256,
             default_dir=None, embedded_splits=None):
    """One record of ``_INFO`` (see :func:`dataset_info`); ``splits`` defaults to 60,000 train / 10,000 test.

    The datasets of ``builders.BUILDERS`` also have tfar's own builder, reading the files
    in ``$TFAR_<NAME>_DIR``; the others come only from the official TFDS builder ``name``.
    """
    local = builders.BUILDERS.get(name)
    source_splits = splits or {"train": 60000, "test": 10000}
    return dict(
        image_shape=image_shape,
        num_classes=num_classes,
        num_levels=num_levels,
        splits=carved_splits(source_splits),
        source_splits=source_splits,
        label_names=label_names,
        tfds_name=name,
        local_builder=local.name if local else None,
        env_var=f"TFAR_{name.upper()}_DIR" if local else None,
        default_dir=default_dir,
        embedded_splits=carved_splits(embedded_splits) if embedded_splits else None,
        license=license_text,
    )


def validation_size(num_train):
    """Examples carved off the end of an original training split of ``num_train`` for validation.

    5,000 (as for MNIST's usual 55,000 / 5,000), or a tenth of a training split smaller
    than 50,000 (the embedded sample: 200 of its 2,000).
    """
    return VALIDATION_EXAMPLES if num_train >= 10 * VALIDATION_EXAMPLES else num_train // 10


def carved_splits(source_splits):
    """Split sizes as ``load`` serves them: a validation split carved from "train" where the files have none."""
    if "validation" in source_splits:
        return dict(source_splits)
    held = validation_size(source_splits["train"])
    return {"train": source_splits["train"] - held, "validation": held, "test": source_splits["test"]}


def source_split(split, source_splits):
    """The TFDS split spec of the original files that serves ``split`` ("train" and "validation" carved)."""
    if split not in ("train", "validation") or "validation" in source_splits:
        return split
    cut = source_splits["train"] - validation_size(source_splits["train"])
    return f"train[:{cut}]" if split == "train" else f"train[{cut}:]"


_INFO = {
    "fashion_mnist": _dataset(
        "fashion_mnist", builders.FASHION_MNIST_LABELS, "MIT (Zalando Research)",
        default_dir=DEBIAN_FASHION_MNIST_DIR, embedded_splits=EMBEDDED_SPLITS,
    ),
    "mnist": _dataset("mnist", builders.MNIST_LABELS, "CC BY-SA 3.0 (LeCun, Cortes and Burges)"),
    "binarized_mnist": _dataset(
        "binarized_mnist", None, "see the TFDS catalogue entry binarized_mnist (Salakhutdinov and Murray 2008)",
        splits={"train": 50000, "validation": 10000, "test": 10000}, num_classes=None, num_levels=2,
    ),
    "cifar10": _dataset(
        "cifar10", builders.CIFAR10_LABELS, "see https://www.cs.toronto.edu/~kriz/cifar.html (Krizhevsky 2009)",
        image_shape=(32, 32, 3), splits={"train": 50000, "test": 10000},
    ),
}

# Host and port the official TFDS builder downloads from; probed before trying.
_DOWNLOAD_HOSTS = {
    "fashion_mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
    "mnist": ("storage.googleapis.com", 443),
    "binarized_mnist": ("www.cs.toronto.edu", 80),
    "cifar10": ("www.cs.toronto.edu", 443),
}


def _check_name(name):
    if name not in _INFO:
        raise ValueError(f"unknown dataset {name!r}; tfar.data knows {', '.join(DATASETS)}")


def dataset_info(name):
    """Static facts about dataset ``name``.

    Returns a dict with ``image_shape`` (H, W, C), ``num_classes`` (None when the
    dataset has no labels), ``num_levels`` (256, or 2 for binarized_mnist), the
    ``splits`` sizes as ``load`` serves them (train / validation / test),
    ``source_splits`` (the original files' splits), ``label_names``, ``tfds_name``
    (official TFDS builder), ``local_builder`` (tfar's offline builder or None),
    ``env_var`` (variable naming a folder of local files or None), ``default_dir``,
    ``embedded_splits`` (split sizes of the shipped sample or None) and ``license``.
    """
    _check_name(name)
    info = dict(_INFO[name])
    info["splits"] = dict(info["splits"])
    info["source_splits"] = dict(info["source_splits"])
    if info["embedded_splits"] is not None:
        info["embedded_splits"] = dict(info["embedded_splits"])
    return info


def default_data_dir():
    """TFDS's default: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def load(
    name,
    split="train",
    batch_size=32,
    data_dir=None,
    manual_dir=None,
    binarize=None,
    num_levels=256,
    with_labels=False,
    shuffle=None,
    repeat=False,
    limit=None,
    source="auto",
    seed=0,
):
    """A ``tf.data.Dataset`` of int32 images [B, H, W, C] in [0, num_levels).

    Args:
      name: one of ``DATASETS``.
      split: "train", "validation" or "test" (disjoint; see the module docstring), or
        a TFDS slice of the original files such as "train[:90%]".
      batch_size: positive int, or None for unbatched examples.
      data_dir: TFDS data folder; default $TFDS_DATA_DIR or ~/tensorflow_datasets.
      manual_dir: folder with the original files (IDX .gz for the MNISTs,
        cifar-10-binary.tar.gz for CIFAR-10); default $TFAR_<NAME>_DIR.
      binarize: None, "fixed" (x >= 128) or "dynamic" (Bernoulli(x / 255), new
        each epoch); both give num_levels 2.
      num_levels: 2..256; values are ``x * num_levels // 256``.
      with_labels: yield (images, labels int32 [B]) instead of images.
      shuffle: default True for "train", False otherwise.
      repeat: True repeats forever, an int that many times, False once.
      limit: keep only the first ``limit`` examples of the split.
      source: "auto", "embedded" (the shipped Fashion-MNIST sample) or "full"
        (never the sample).
      seed: seeds shuffling and dynamic binarization.
    """
    _check_name(name)
    info = _INFO[name]
    _check_args(name, info, split, batch_size, binarize, num_levels, with_labels, limit, source, repeat)
    if shuffle is None:
        shuffle = split == "train"
    data_dir = os.fspath(data_dir) if data_dir is not None else default_data_dir()

    ds, num_examples = _resolve(name, split, data_dir, manual_dir, source, bool(shuffle), seed)
    return pipeline(ds, num_examples, info["num_levels"], batch_size, binarize, num_levels, with_labels, shuffle,
                    repeat, limit, seed)


def pipeline(ds, num_examples, source_levels, batch_size, binarize, num_levels, with_labels, shuffle, repeat, limit,
             seed):
    """What ``load`` (and ``image_folder``) do to unbatched (uint8 image, int64 label) examples.

    ``num_examples`` is the size of ``ds`` (or None), ``source_levels`` the levels of
    its pixels (256, or 2 for binarized_mnist); the other arguments are ``load``'s.
    """
    if limit is not None:
        ds = ds.take(limit)
        num_examples = min(limit, num_examples) if num_examples else limit
    if shuffle:
        buffer = max(1, min(num_examples or _SHUFFLE_BUFFER, _SHUFFLE_BUFFER))
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat is True:
        ds = ds.repeat()
    elif repeat:
        ds = ds.repeat(int(repeat))
    if batch_size is not None:
        ds = ds.batch(batch_size)
    ds = _transform(ds, source_levels, binarize, num_levels, with_labels, seed)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_args(name, info, split, batch_size, binarize, num_levels, with_labels, limit, source, repeat):
    if binarize is not None and binarize not in BINARIZE_MODES:
        raise ValueError(f"binarize must be None, 'fixed' or 'dynamic', got {binarize!r}")
    checked_int("num_levels", num_levels, "an int in [2, 256]", lambda v: 2 <= v <= 256)
    if binarize is not None and num_levels not in (2, 256):
        raise ValueError(f"binarize={binarize!r} gives 2 levels; num_levels={num_levels!r} contradicts it")
    if info["num_levels"] == 2:
        if binarize is not None:
            raise ValueError(f"{name} is already binary; binarize must be None, got {binarize!r}")
        if num_levels not in (2, 256):
            raise ValueError(f"{name} has 2 levels; num_levels must be 2 (or the default 256), got {num_levels!r}")
    if with_labels and info["num_classes"] is None:
        raise ValueError(f"{name} has no labels; with_labels must be False")
    optional_positive_int("batch_size", batch_size)
    non_negative_int("limit", limit, optional=True)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "embedded" and info["embedded_splits"] is None:
        raise ValueError(f"source='embedded' is only available for fashion_mnist, not {name!r}")
    if not isinstance(repeat, bool):
        checked_int("repeat", repeat, "a bool or a non-negative int", lambda v: v >= 0)
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty string such as 'train', got {split!r}")


def _transform(ds, source_levels, binarize, num_levels, with_labels, seed):
    """Map uint8 (image, label) elements to int32 pixels (and labels)."""

    def output(images, labels):
        return (images, tf.cast(labels, tf.int32)) if with_labels else images

    if binarize == "dynamic":
        # One int64 per element (a batch, when batched) from a seeded stream that is
        # redrawn on every iteration of the dataset, so each epoch gets new pixels.
        noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def dynamic(element, noise_seed):
            images, labels = element
            stateless_seed = tf.stack([noise_seed, tf.constant(seed, tf.int64)])
            u = tf.random.stateless_uniform(tf.shape(images), seed=stateless_seed)
            p = tf.cast(images, tf.float32) / 255.0
            return output(tf.cast(u < p, tf.int32), labels)

        return tf.data.Dataset.zip((ds, noise_seeds)).map(dynamic, num_parallel_calls=tf.data.AUTOTUNE)

    def static(images, labels):
        x = tf.cast(images, tf.int32)
        if binarize == "fixed":
            x = tf.cast(x >= 128, tf.int32)
        elif source_levels == 256 and num_levels != 256:
            x = x * num_levels // 256
        return output(x, labels)

    return ds.map(static, num_parallel_calls=tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------
# Where the data come from


def _resolve(name, split, data_dir, manual_dir, source, shuffle, seed):
    """(unbatched dataset of (image uint8 [H, W, C], label), number of examples or None)."""
    info = _INFO[name]
    if source == "embedded":
        return _embedded_dataset(source_split(split, EMBEDDED_SPLITS))

    official = _prepared_official_builder(info["tfds_name"], data_dir)
    if official is not None:
        logger.info("tfar.data: %s from the prepared TFDS dataset in %s", name, official.data_dir)
        return _from_builder(official, split, shuffle, seed, info)

    if info["local_builder"] is not None:
        local = _prepared_local_builder(name, data_dir)
        if local is not None:
            logger.info("tfar.data: %s from tfar's prepared TFDS dataset in %s", name, local.data_dir)
            return _from_builder(local, split, shuffle, seed, info)
        files_dir, origin = _local_files_dir(name, manual_dir)
        if files_dir is not None:
            local = builders.BUILDERS[name](data_dir=data_dir)
            try:
                _prepare_local(local, files_dir)
            except OSError as error:
                # another process (a second training started at the same time) may have
                # prepared the same version first: its rename won, ours found the folder taken
                local = _prepared_local_builder(name, data_dir)
                if local is not None:
                    logger.info("tfar.data: %s was prepared by another process in %s", name, local.data_dir)
                    return _from_builder(local, split, shuffle, seed, info)
                if origin != "default":
                    raise
                # Files found by themselves but data_dir not writable: go on to the next source.
                logger.warning("tfar.data: could not prepare %s into %s: %s", name, data_dir, error)
            else:
                return _from_builder(local, split, shuffle, seed, info)

    if source == "auto" and info["embedded_splits"] is not None:
        logger.info(
            "tfar.data: using the embedded Fashion-MNIST sample (first 2,000 train / 500 test images). "
            "For the full 60,000/10,000 set, install the Debian package dataset-fashion-mnist, or put the four "
            "IDX .gz files in a folder and pass manual_dir= or set %s.",
            info["env_var"],
        )
        return _embedded_dataset(source_split(split, EMBEDDED_SPLITS))

    return _official_download(name, split, data_dir, shuffle, seed)


def _prepared_local_builder(name, data_dir):
    """tfar's own builder for ``name`` when its data are prepared in ``data_dir``, else None."""
    local = builders.BUILDERS[name](data_dir=data_dir)
    prepared = (epath.Path(local.data_dir) / "dataset_info.json").exists() and local.is_prepared()
    return local if prepared else None


def _prepared_official_builder(tfds_name, data_dir):
    """The official TFDS builder when its data are prepared in ``data_dir``, else None (no network)."""
    folder = epath.Path(data_dir) / tfds_name
    if not folder.is_dir() or not any((v / "dataset_info.json").exists() for v in folder.iterdir()):
        return None
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    return builder if builder.is_prepared() else None


def _local_files_dir(name, manual_dir):
    """(folder of original files, "manual_dir" | "env" | "default") or (None, None).

    A folder named by the argument or the environment variable but lacking files raises.
    """
    info = _INFO[name]
    missing = builders.missing_cifar10_files if name == "cifar10" else builders.missing_idx_files
    env_dir = os.environ.get(info["env_var"]) if info["env_var"] else None
    for directory, origin in ((manual_dir, "manual_dir"), (env_dir, f"${info['env_var']}")):
        if directory:
            directory = os.path.expanduser(os.fspath(directory))
            lacking = missing(directory)
            if lacking:
                raise ValueError(
                    f"{name}: {origin}={directory!r} lacks {', '.join(lacking)}. "
                    f"{builders.BUILDERS[name].MANUAL_DOWNLOAD_INSTRUCTIONS}"
                )
            return directory, "manual_dir" if origin == "manual_dir" else "env"
    default_dir = info["default_dir"]
    if default_dir and not missing(default_dir):
        return default_dir, "default"
    return None, None


def _prepare_local(builder, files_dir):
    logger.info("tfar.data: preparing %s from %s into %s (once)", builder.name, files_dir, builder.data_dir)
    start = time.perf_counter()
    config = tfds.download.DownloadConfig(manual_dir=files_dir, try_download_gcs=False)
    builder.download_and_prepare(download_config=config)
    logger.info("tfar.data: prepared %s in %.1f s", builder.name, time.perf_counter() - start)


def _from_builder(builder, split, shuffle, seed, info):
    split = source_split(split, {name: s.num_examples for name, s in builder.info.splits.items()})
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    # tfar's builders keep the original order (disable_shuffling); load() shuffles examples itself.
    shuffle_files = shuffle and not builder.info.disable_shuffling
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
    has_labels = info["num_classes"] is not None

    def to_pair(example):
        label = example["label"] if has_labels else tf.constant(-1, tf.int64)
        return example["image"], label

    try:
        num_examples = builder.info.splits[split].num_examples
    except (KeyError, ValueError, TypeError):
        num_examples = None
    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE), num_examples


def _official_download(name, split, data_dir, shuffle, seed):
    info = _INFO[name]
    host = _DOWNLOAD_HOSTS[name]
    reason = None
    if os.environ.get("TFAR_OFFLINE"):
        reason = "TFAR_OFFLINE is set"
    elif not _reachable(*host):
        reason = f"{host[0]} is not reachable (offline?)"
    else:
        builder = tfds.builder(info["tfds_name"], data_dir=data_dir)
        try:
            logger.info("tfar.data: downloading %s through TFDS into %s", name, data_dir)
            builder.download_and_prepare()
            return _from_builder(builder, split, shuffle, seed, info)
        except Exception as error:  # noqa: BLE001 - any download failure becomes the same advice
            reason = f"the TFDS download failed: {type(error).__name__}: {error}"
    raise ValueError(_missing_data_message(name, data_dir, reason))


def _missing_data_message(name, data_dir, reason):
    info = _INFO[name]
    lines = [f"tfar.data: no {name} data found ({reason})."]
    if info["local_builder"] is None:
        lines.append(
            f"{name} only comes from the official TFDS builder: on a machine with internet run "
            f"`tfds build {info['tfds_name']} --data_dir DIR`, then copy DIR/{info['tfds_name']} into {data_dir} "
            f"(or pass data_dir=DIR)."
        )
        return " ".join(lines)
    lines.append(f"Looked for prepared TFDS data '{info['tfds_name']}' and '{info['local_builder']}' in {data_dir}.")
    if name == "cifar10":
        wanted = f"{builders.CIFAR10_ARCHIVE} (or the extracted {builders.CIFAR10_FOLDER}/)"
    else:
        wanted = ", ".join(n for pair in builders.IDX_FILES.values() for n in pair)
    lines.append(
        f"Put {wanted} in a folder and pass load({name!r}, manual_dir=FOLDER) or set {info['env_var']}=FOLDER; "
        f"tfar prepares them once into {data_dir}/{info['local_builder']}."
    )
    if info["default_dir"]:
        lines.append(
            f"On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` puts them in {info['default_dir']}, "
            "which tfar finds by itself."
        )
    return " ".join(lines)


def _reachable(host, port, timeout=_PROBE_TIMEOUT_S):
    """True when a TCP connection to host:port opens within ``timeout`` s (DNS included)."""
    result = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# ----------------------------------------------------------------------------
# The embedded Fashion-MNIST sample


def embedded_arrays(split):
    """(images uint8 [N, 28, 28, 1], labels uint8 [N]) of the shipped sample's "train" or "test" split.

    The arrays are read-only and cached.
    """
    if split not in EMBEDDED_SPLITS:
        raise ValueError(f"the embedded sample has splits {sorted(EMBEDDED_SPLITS)}, got {split!r}")
    return _read_embedded(split)


@functools.lru_cache(maxsize=None)
def _read_embedded(split):
    folder = importlib.resources.files("tfar.data") / "embedded"
    images_name, labels_name = builders.IDX_FILES[split]
    images = builders.parse_idx((folder / images_name).read_bytes())[..., None]
    labels = builders.parse_idx((folder / labels_name).read_bytes())
    for array in (images, labels):
        array.setflags(write=False)
    return images, labels


def _embedded_dataset(split):
    from tensorflow_datasets.core import splits as tfds_splits

    split_infos = {
        name: tfds.core.SplitInfo(name=name, shard_lengths=[size], num_bytes=0, filename_template=None)
        for name, size in EMBEDDED_SPLITS.items()
    }
    try:
        instructions = tfds_splits.AbstractSplit.from_spec(split).to_absolute(split_infos)
    except (ValueError, KeyError, AssertionError) as error:
        raise ValueError(f"the embedded sample has splits {sorted(EMBEDDED_SPLITS)}; cannot read {split!r}: {error}")
    images, labels = [], []
    for instruction in instructions:
        x, y = embedded_arrays(instruction.splitname)
        images.append(x[instruction.from_ : instruction.to])
        labels.append(y[instruction.from_ : instruction.to])
    images, labels = np.concatenate(images), np.concatenate(labels)
    return tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64))), len(images)

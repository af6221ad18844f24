"""Your own PNG/JPEG files as a tfar image dataset: ``image_folder(path, image_shape)``.

The folder holds either images (no labels) or one sub-folder per class::

    my_images/                    my_images/
      0001.png                      sneaker/0001.png
      0002.jpg                      sneaker/more/0002.png   (any depth below a class)
                                    bag/0003.jpg

Files are decoded by TensorFlow (``tf.io.decode_image``) to ``C`` channels (1: grey,
3: RGB; colour files become grey and grey files RGB as needed) and fitted to
``(H, W)``: ``fit="resize"`` resizes the whole image, ``fit="crop"`` first cuts the
largest centred box with the target's aspect ratio. An image already of size
``(H, W)`` is kept pixel for pixel. The examples then go through the same pipeline as
:func:`tfar.data.load` (limit, shuffle, repeat, batch, quantization), so a model sees
int32 images [B, H, W, C] in [0, num_levels), or (images, labels int32 [B]).

Validation split: a file is in "validation" when the SHA-1 of its path relative to the
folder (with "/" separators, e.g. "sneaker/0001.png"), read as a number in [0, 1), is
below ``validation_fraction``; else it is in "train". The rule looks at one file at a
time, so a file stays in its split on every machine and when files are added or removed.
"""

import hashlib
import os
import re

import numpy as np
import tensorflow as tf

from tfar.arg_checks import check_color_channels, positive_int, rate_in_unit_interval
from tfar.data import images

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FITS = ("resize", "crop")
SPLITS = ("train", "validation", "all")


def image_folder(
    path,
    image_shape,
    split="train",
    batch_size=32,
    with_labels=False,
    class_names=None,
    fit="resize",
    validation_fraction=0.1,
    num_levels=256,
    binarize=None,
    shuffle=None,
    repeat=False,
    limit=None,
    seed=0,
):
    """A ``tf.data.Dataset`` of int32 images [B, H, W, C] in [0, num_levels) read from a folder.

    Args:
      path: a folder of PNG/JPEG files, or of class sub-folders holding them (see the
        module docstring). Hidden files and folders (".name") and other extensions are skipped.
      image_shape: (H, W, C) with C = 1 (grey) or 3 (RGB).
      split: "train", "validation" (stable, by a hash of each file's relative path) or "all".
      batch_size: positive int, or None for unbatched examples.
      with_labels: yield (images, labels int32 [B]); needs class sub-folders.
      class_names: class sub-folder names in label order (label i = class_names[i]);
        default: the sorted names of the sub-folders. Every sub-folder must be listed; a
        listed name without a folder just has no images (its label is kept).
      fit: "resize" or "crop" (centre crop to the target aspect ratio, then resize).
      validation_fraction: share of files in "validation", in [0, 1).
      num_levels, binarize, shuffle, repeat, limit, seed: as in :func:`tfar.data.load`.

    Returns:
      The dataset, with ``class_names`` (tuple, or None without class folders) and
      ``file_paths`` (the split's files in dataset order before shuffling) attached.
      Files are decoded once, when the dataset is built, and held as uint8 in memory
      (N * H * W * C bytes); a file TensorFlow cannot decode raises a ValueError naming it.
    """
    image_shape = _check_image_shape(image_shape)
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    validation_fraction = rate_in_unit_interval("validation_fraction", validation_fraction)
    files, labels, class_names = find_images(path, class_names)
    if with_labels and class_names is None:
        raise ValueError(
            f"with_labels=True needs one sub-folder per class in {os.fspath(path)!r}, but its images are not in "
            f"sub-folders"
        )
    info = {"num_levels": 256, "num_classes": None if class_names is None else len(class_names),
            "embedded_splits": None}
    images._check_args("image_folder", info, split, batch_size, binarize, num_levels, with_labels, limit, "auto",
                       repeat)

    root = os.fspath(path)
    chosen = [i for i, f in enumerate(files) if split == "all" or file_split(f, validation_fraction) == split]
    if not chosen:
        raise ValueError(
            f"split {split!r} of {root!r} is empty ({len(files)} images, validation_fraction={validation_fraction}); "
            f"use split='all' or change validation_fraction"
        )
    files = [files[i] for i in chosen]
    labels = np.array([labels[i] for i in chosen], np.int64)
    pixels = np.stack([read_image(os.path.join(root, f), image_shape, fit) for f in files])

    if shuffle is None:
        shuffle = split == "train"
    ds = tf.data.Dataset.from_tensor_slices((pixels, labels))
    ds = images.pipeline(ds, len(files), 256, batch_size, binarize, num_levels, with_labels, bool(shuffle), repeat,
                         limit, seed)
    ds.class_names = class_names
    ds.file_paths = [os.path.join(root, f) for f in (files if limit is None else files[:limit])]
    return ds


def _check_image_shape(image_shape):
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}")
    height = positive_int("image_shape[0]", shape[0])
    width = positive_int("image_shape[1]", shape[1])
    return height, width, check_color_channels(shape[2], "image_shape[2]")


def file_split(relative_path, validation_fraction):
    """"validation" when SHA-1(relative path with "/" separators) as a number in [0, 1) is below the fraction."""
    name = relative_path.replace(os.sep, "/")
    u = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return "validation" if u < validation_fraction else "train"


def _is_image(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_below(folder):
    """Sorted image paths below ``folder`` (any depth), relative to it, hidden folders skipped."""
    found = []
    for parent, folders, names in os.walk(folder):
        folders[:] = [f for f in folders if not f.startswith(".")]
        relative = os.path.relpath(parent, folder)
        found += [os.path.normpath(os.path.join(relative, n)) for n in names if _is_image(n)]
    return sorted(found)


def find_images(path, class_names=None):
    """(image paths relative to ``path``, labels, class names or None) of an image folder.

    Images directly in ``path`` get label -1 and class names None; images in class
    sub-folders get the index of their folder in ``class_names`` (default: sorted folder names).
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ValueError(f"image folder {root!r} does not exist or is not a folder")
    entries = sorted(os.listdir(root))
    top = [n for n in entries if _is_image(n) and os.path.isfile(os.path.join(root, n))]
    classes = {
        n: _images_below(os.path.join(root, n))
        for n in entries
        if not n.startswith(".") and os.path.isdir(os.path.join(root, n))
    }
    classes = {name: found for name, found in classes.items() if found}
    if top and classes:
        raise ValueError(
            f"image folder {root!r} mixes images at its top level ({top[0]!r}, ...) with class sub-folders "
            f"({', '.join(sorted(classes))}): put every image in a class sub-folder, or none"
        )
    if not top and not classes:
        raise ValueError(f"image folder {root!r} holds no {'/'.join(IMAGE_EXTENSIONS)} files")
    if top:
        if class_names is not None:
            raise ValueError(f"class_names={class_names!r} given, but {root!r} has no class sub-folders")
        return top, [-1] * len(top), None

    if class_names is None:
        class_names = sorted(classes)
    class_names = tuple(class_names)
    if not class_names or not all(isinstance(n, str) and n for n in class_names):
        raise ValueError(f"class_names must be non-empty folder names, got {class_names!r}")
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names has repeated names: {class_names!r}")
    unknown = sorted(set(classes) - set(class_names))
    if unknown:
        raise ValueError(f"sub-folders {unknown} of {root!r} are not in class_names {list(class_names)}")
    files, labels = [], []
    for label, name in enumerate(class_names):
        for relative in classes.get(name, []):
            files.append(os.path.join(name, relative))
            labels.append(label)
    return files, labels, class_names


def read_image(path, image_shape, fit="resize"):
    """uint8 [H, W, C] of one PNG/JPEG file, decoded by TensorFlow and fitted to ``image_shape``."""
    height, width, channels = image_shape
    try:
        contents = tf.io.read_file(path)
        image = tf.io.decode_image(contents, channels=channels, dtype=tf.uint8, expand_animations=False)
    except tf.errors.OpError as error:
        raise ValueError(f"cannot decode image file {path!r}: {_op_message(error)}") from None
    return fit_image(image, height, width, fit).numpy()


def _op_message(error):
    """The first line of a TensorFlow op error, without its "{{function_node ...}}" and "[Op:...]" parts."""
    lines = str(getattr(error, "message", "") or error).strip().splitlines() or ["unknown error"]
    return re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", lines[0]).strip()


def fit_image(image, height, width, fit="resize"):
    """uint8 [h, w, C] -> uint8 [height, width, C]; unchanged when already that size.

    "crop" cuts the largest centred box with aspect ratio width/height first; both modes
    then resize bilinearly with antialiasing and round to the nearest level.
    """
    h, w = int(image.shape[0]), int(image.shape[1])
    if fit == "crop":
        crop_h, crop_w = h, w
        if w * height > h * width:  # too wide
            crop_w = max(1, round(h * width / height))
        else:
            crop_h = max(1, round(w * height / width))
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        image = image[top : top + crop_h, left : left + crop_w]
    if tuple(image.shape[:2]) == (height, width):
        return tf.convert_to_tensor(image)
    resized = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

"""tfar.data.image_folder: the user's PNG/JPEG files through the same pipeline as tfar.data.load."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

import tfar
from tfar.data.image_folder import file_split, find_images


def write_png(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(np.asarray(pixels, np.uint8)))


def collect(ds):
    """All elements of a dataset as NumPy: images, or (images, labels)."""
    parts = list(ds.as_numpy_iterator())
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)


def random_images(count, shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, [count, *shape], dtype=np.uint8)


def test_thirty_images_round_trip_exactly_from_integer_pixels(tmp_path):
    originals = random_images(30, (6, 5, 1))
    for i, image in enumerate(originals):
        write_png(str(tmp_path / f"{i:02d}.png"), image)
    ds = tfar.data.image_folder(tmp_path, (6, 5, 1), split="all", batch_size=8, shuffle=False)
    images = collect(ds)
    assert images.dtype == np.int32 and images.shape == (30, 6, 5, 1)
    np.testing.assert_array_equal(images, originals)
    assert ds.class_names is None
    assert [os.path.basename(p) for p in ds.file_paths] == [f"{i:02d}.png" for i in range(30)]
    shuffled = collect(tfar.data.image_folder(tmp_path, (6, 5, 1), split="all", batch_size=8, shuffle=True))
    assert not np.array_equal(shuffled, originals)
    np.testing.assert_array_equal(np.sort(shuffled.reshape(30, -1), axis=0), np.sort(originals.reshape(30, -1), axis=0))


def test_rgb_files_read_exactly_and_convert_to_grey(tmp_path):
    originals = random_images(4, (3, 4, 3), seed=1)
    originals[0] = originals[0, :, :, :1]  # a colour file whose channels agree is grey
    for i, image in enumerate(originals):
        write_png(str(tmp_path / f"{i}.png"), image)
    rgb = collect(tfar.data.image_folder(tmp_path, (3, 4, 3), split="all", shuffle=False))
    np.testing.assert_array_equal(rgb, originals)
    grey = collect(tfar.data.image_folder(tmp_path, (3, 4, 1), split="all", shuffle=False))
    assert grey.shape == (4, 3, 4, 1)
    np.testing.assert_array_equal(grey[0], originals[0, :, :, :1])


def test_grey_files_read_exactly_and_expand_to_rgb(tmp_path):
    originals = random_images(3, (4, 4, 1), seed=2)
    for i, image in enumerate(originals):
        write_png(str(tmp_path / f"{i}.png"), image)
    grey = collect(tfar.data.image_folder(tmp_path, (4, 4, 1), split="all", shuffle=False))
    np.testing.assert_array_equal(grey, originals)
    rgb = collect(tfar.data.image_folder(tmp_path, (4, 4, 3), split="all", shuffle=False))
    np.testing.assert_array_equal(rgb, np.repeat(originals, 3, axis=-1))


def test_jpeg_files_are_read(tmp_path):
    image = np.full([16, 16, 3], 200, np.uint8)
    image[:8] = 40  # constant 8x8 JPEG blocks come back almost exactly
    tf.io.write_file(str(tmp_path / "a.JPG"), tf.io.encode_jpeg(image, quality=95))
    tf.io.write_file(str(tmp_path / "b.jpeg"), tf.io.encode_jpeg(image, quality=95))
    read = collect(tfar.data.image_folder(tmp_path, (16, 16, 3), split="all", shuffle=False))
    assert read.shape == (2, 16, 16, 3)
    assert np.abs(read - image).max() <= 2


def test_nested_class_folders_give_the_right_labels(tmp_path):
    # the pixel value of each file encodes the class it is in
    layout = {"bag": ["1.png", "deep/er/2.png"], "coat": ["3.png"], "sneaker": ["a/4.png", "5.png", "6.png"]}
    value = {"bag": 10, "coat": 20, "sneaker": 30}
    for folder, names in layout.items():
        for name in names:
            write_png(str(tmp_path / folder / name), np.full([2, 2, 1], value[folder]))
    (tmp_path / "notes.txt").write_text("not an image")
    write_png(str(tmp_path / ".ipynb_checkpoints" / "x.png"), np.zeros([2, 2, 1]))  # hidden: skipped

    ds = tfar.data.image_folder(tmp_path, (2, 2, 1), split="all", with_labels=True, shuffle=False)
    assert ds.class_names == ("bag", "coat", "sneaker")
    images, labels = collect(ds)
    assert labels.dtype == np.int32 and len(labels) == 6
    np.testing.assert_array_equal(images[:, 0, 0, 0], np.array([10, 20, 30])[labels])
    np.testing.assert_array_equal(np.bincount(labels), [2, 1, 3])

    # explicit order, with a class that has no folder: the labels follow class_names
    names = ("sneaker", "shirt", "coat", "bag")
    images, labels = collect(tfar.data.image_folder(tmp_path, (2, 2, 1), split="all", with_labels=True,
                                                    class_names=names, shuffle=False))
    expected_label = {30: 0, 20: 2, 10: 3}
    np.testing.assert_array_equal(labels, [expected_label[v] for v in images[:, 0, 0, 0]])


def test_a_corrupt_file_gives_an_error_naming_it(tmp_path):
    for i in range(3):
        write_png(str(tmp_path / "cat" / f"{i}.png"), np.zeros([4, 4, 1]))
    bad = tmp_path / "cat" / "broken.png"
    good = tf.io.encode_png(np.zeros([4, 4, 1], np.uint8)).numpy()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        tfar.data.image_folder(tmp_path, (4, 4, 1), split="all")
    bad.write_bytes(b"GIF? no, plain text")
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*Unknown image file format"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), split="all")


def test_validation_split_is_stable_disjoint_and_follows_the_documented_hash(tmp_path):
    for i in range(60):
        write_png(str(tmp_path / ("a" if i % 2 else "b") / f"{i}.png"), np.full([2, 2, 1], i))
    kwargs = dict(split="train", batch_size=64, shuffle=False, validation_fraction=0.25)
    train = tfar.data.image_folder(tmp_path, (2, 2, 1), **kwargs)
    validation = tfar.data.image_folder(tmp_path, (2, 2, 1), **dict(kwargs, split="validation"))
    rel = lambda paths: {os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in paths}  # noqa: E731
    train_files, validation_files = rel(train.file_paths), rel(validation.file_paths)
    assert not train_files & validation_files
    assert len(train_files | validation_files) == 60
    assert 5 <= len(validation_files) <= 25
    assert all(file_split(f, 0.25) == "validation" for f in validation_files)
    assert all(file_split(f, 0.25) == "train" for f in train_files)
    # adding files moves nobody: each file's split depends on its own path only
    for i in range(60, 80):
        write_png(str(tmp_path / "a" / f"{i}.png"), np.full([2, 2, 1], i))
    again = tfar.data.image_folder(tmp_path, (2, 2, 1), **dict(kwargs, split="validation"))
    assert validation_files <= rel(again.file_paths)
    assert len(collect(train)) == len(train_files)


def test_fit_resize_and_centre_crop(tmp_path):
    wide = np.zeros([4, 8, 1], np.uint8)
    wide[:, 2:6] = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) + 100
    write_png(str(tmp_path / "wide.png"), wide)
    cropped = collect(tfar.data.image_folder(tmp_path, (4, 4, 1), split="all", fit="crop"))
    np.testing.assert_array_equal(cropped[0], wide[:, 2:6])  # centre box of the target's aspect, kept exactly
    cropped_small = collect(tfar.data.image_folder(tmp_path, (2, 2, 1), split="all", fit="crop"))
    assert cropped_small.shape == (1, 2, 2, 1) and cropped_small.min() >= 100  # no black border resized in
    resized = collect(tfar.data.image_folder(tmp_path, (2, 2, 1), split="all", fit="resize"))
    assert resized.shape == (1, 2, 2, 1) and resized.min() < 100  # whole image squeezed: borders mix in


def test_same_element_structure_and_options_as_load(tmp_path):
    originals = random_images(12, (28, 28, 1), seed=3)
    for i, image in enumerate(originals):
        write_png(str(tmp_path / ("x" if i < 6 else "y") / f"{i:02d}.png"), image)
    for with_labels in (False, True):
        mine = tfar.data.image_folder(tmp_path, (28, 28, 1), split="all", batch_size=4, with_labels=with_labels)
        theirs = tfar.data.load("fashion_mnist", split="test", batch_size=4, with_labels=with_labels,
                                source="embedded", limit=8)
        assert mine.element_spec == theirs.element_spec
    quantized = collect(tfar.data.image_folder(tmp_path, (28, 28, 1), split="all", num_levels=16, limit=5,
                                               shuffle=False))
    np.testing.assert_array_equal(quantized, originals[:5].astype(np.int32) * 16 // 256)
    binary = collect(tfar.data.image_folder(tmp_path, (28, 28, 1), split="all", binarize="fixed", shuffle=False))
    np.testing.assert_array_equal(binary, (originals >= 128).astype(np.int32))
    repeated = tfar.data.image_folder(tmp_path, (28, 28, 1), split="all", batch_size=5, repeat=True)
    assert [b.shape[0] for b in repeated.take(4)] == [5, 5, 5, 5]


def test_bad_folders_and_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        tfar.data.image_folder(tmp_path / "missing", (4, 4, 1))
    with pytest.raises(ValueError, match="holds no"):
        tfar.data.image_folder(tmp_path, (4, 4, 1))
    write_png(str(tmp_path / "top.png"), np.zeros([4, 4, 1]))
    with pytest.raises(ValueError, match="with_labels=True needs one sub-folder per class"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), with_labels=True, split="all")
    write_png(str(tmp_path / "cat" / "1.png"), np.zeros([4, 4, 1]))
    with pytest.raises(ValueError, match="mixes images at its top level"):
        find_images(tmp_path)
    os.remove(tmp_path / "top.png")
    with pytest.raises(ValueError, match=r"sub-folders \['cat'\].*not in class_names"):
        find_images(tmp_path, class_names=["dog"])
    with pytest.raises(ValueError, match="image_shape must be"):
        tfar.data.image_folder(tmp_path, (4, 4))
    with pytest.raises(ValueError, match=r"image_shape\[2\] must be 1 \(grey\) or 3 \(RGB\), got 4"):
        tfar.data.image_folder(tmp_path, (4, 4, 4))
    with pytest.raises(ValueError, match="fit must be one of"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), fit="stretch")
    with pytest.raises(ValueError, match="split must be one of"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), split="test")
    with pytest.raises(ValueError, match="validation_fraction must be a float in"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), validation_fraction=1.0)
    with pytest.raises(ValueError, match="split 'validation' of .* is empty"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), split="validation", validation_fraction=0.0)
    with pytest.raises(ValueError, match="batch_size must be None or a positive int, got 0"):
        tfar.data.image_folder(tmp_path, (4, 4, 1), split="all", batch_size=0)

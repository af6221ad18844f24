"""Tests for tfar.data.images and tfar.data.builders (IDX/CIFAR parsing, TFDS builders, load())."""

import gzip
import hashlib
import io
import logging
import os
import struct
import tarfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from etils import epath

from tfar.data import builders, images
from tfar.data.builders import parse_cifar10_batch, read_idx, write_idx
from tfar.data.images import DATASETS, dataset_info, load

DEBIAN_DIR = images.DEBIAN_FASHION_MNIST_DIR
HAS_DEBIAN = not builders.missing_idx_files(DEBIAN_DIR)
REAL_DATA_DIR = images.default_data_dir()


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path):
    """No download attempts, no env folders, and a data_dir that starts empty."""
    monkeypatch.setenv("TFAR_OFFLINE", "1")
    for info in (dataset_info(n) for n in DATASETS):
        if info["env_var"]:
            monkeypatch.delenv(info["env_var"], raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "default_data_dir"))


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setitem(images._INFO["fashion_mnist"], "default_dir", str(tmp_path / "no_such_dir"))


def _fake_split(rng, n, shape=(28, 28, 1)):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def _write_fake_idx_dir(directory, seed=0, n_train=5, n_test=3, gz=True):
    """A manual_dir with tiny IDX files; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    data = {"train": _fake_split(rng, n_train), "test": _fake_split(rng, n_test)}
    for split, (images_name, labels_name) in builders.IDX_FILES.items():
        suffix = "" if gz else ".gz"
        write_idx(os.path.join(directory, images_name.removesuffix(suffix)), data[split][0][..., 0])
        write_idx(os.path.join(directory, labels_name.removesuffix(suffix)), data[split][1])
    return data


def _collect(ds):
    xs, ys = [], []
    for x, y in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.array(ys)


# --- IDX and CIFAR-10 parsing -------------------------------------------------------------


def test_read_idx_matches_handwritten_bytes(tmp_path):
    image_bytes = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2, 2, 3) + bytes(range(12))
    label_bytes = bytes([0, 0, 0x08, 1, 0, 0, 0, 4, 9, 0, 3, 7])
    (tmp_path / "images.gz").write_bytes(gzip.compress(image_bytes))
    (tmp_path / "labels").write_bytes(label_bytes)

    got_images = read_idx(str(tmp_path / "images.gz"))
    got_labels = read_idx(str(tmp_path / "labels"))

    np.testing.assert_array_equal(got_images, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    assert got_images.dtype == np.uint8
    np.testing.assert_array_equal(got_labels, [9, 0, 3, 7])


def test_read_idx_big_endian_int32(tmp_path):
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", 258, -1)
    (tmp_path / "ints").write_bytes(data)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "ints")), [258, -1])


def test_write_idx_writes_the_handwritten_bytes(tmp_path):
    array = np.array([[1, 2, 3], [4, 5, 255]], dtype=np.uint8)
    write_idx(str(tmp_path / "a.gz"), array)
    expected = bytes([0, 0, 0x08, 2]) + struct.pack(">II", 2, 3) + bytes([1, 2, 3, 4, 5, 255])
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == expected


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes([1, 0, 8, 1, 0, 0, 0, 1, 5]), "first two bytes"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]), "type code"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 3, 5]), "payload"),
    ],
)
def test_parse_idx_rejects_bad_files(data, message):
    with pytest.raises(ValueError, match=message):
        builders.parse_idx(data)


def _cifar_record(label, rng):
    planes = rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8)
    return bytes([label]) + planes.tobytes(), planes


def test_parse_cifar10_batch_plane_order():
    rng = np.random.default_rng(1)
    (rec0, planes0), (rec1, planes1) = _cifar_record(7, rng), _cifar_record(2, rng)
    got_images, got_labels = parse_cifar10_batch(rec0 + rec1)
    np.testing.assert_array_equal(got_labels, [7, 2])
    assert got_images.shape == (2, 32, 32, 3)
    # pixel (i, j) is (R[i, j], G[i, j], B[i, j]) from the three planes of the record
    np.testing.assert_array_equal(got_images[0, 3, 5], planes0[:, 3, 5])
    np.testing.assert_array_equal(got_images[1, 31, 0], planes1[:, 31, 0])
    np.testing.assert_array_equal(got_images[1, ..., 1], planes1[1])
    with pytest.raises(ValueError, match="record"):
        parse_cifar10_batch(rec0[:-1])


# --- TFDS builders from a fake manual_dir --------------------------------------------------


def test_fashion_mnist_builder_prepares_exactly_the_manual_files(tmp_path):
    manual = tmp_path / "manual"
    fake = _write_fake_idx_dir(str(manual))
    builder = builders.TfarFashionMnist(data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual), try_download_gcs=False)
    )
    assert builder.info.splits["train"].num_examples == 5
    assert builder.info.splits["test"].num_examples == 3
    for split in ("train", "test"):
        x, y = _collect(builder.as_dataset(split=split, as_supervised=True))
        np.testing.assert_array_equal(x, fake[split][0])  # same images, same order
        np.testing.assert_array_equal(y, fake[split][1])


def test_builder_without_manual_files_names_the_instructions(tmp_path):
    builder = builders.TfarMnist(data_dir=str(tmp_path / "data"))
    with pytest.raises(AssertionError, match="manual_dir"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=str(tmp_path / "empty"), try_download_gcs=False
            )
        )


def test_load_prepares_mnist_from_env_var_folder_of_plain_idx(tmp_path, monkeypatch):
    manual = tmp_path / "mnist_files"
    fake = _write_fake_idx_dir(str(manual), seed=3, gz=False)
    monkeypatch.setenv("TFAR_MNIST_DIR", str(manual))
    data_dir = str(tmp_path / "data")
    ds = load("mnist", split="test", data_dir=data_dir, batch_size=None, with_labels=True)
    x, y = _collect(ds)
    assert x.dtype == np.int32 and y.dtype == np.int32
    np.testing.assert_array_equal(x, fake["test"][0])
    np.testing.assert_array_equal(y, fake["test"][1])
    # Second load reads the prepared files even when the folder is gone.
    monkeypatch.delenv("TFAR_MNIST_DIR")
    x2, _ = _collect(load("mnist", split="test", data_dir=data_dir, batch_size=None, with_labels=True))
    np.testing.assert_array_equal(x2, fake["test"][0])


def test_load_prepares_cifar10_from_binary_tarball(tmp_path):
    rng = np.random.default_rng(5)
    manual = tmp_path / "cifar"
    manual.mkdir()
    expected = {"train": [], "test": []}
    with tarfile.open(manual / builders.CIFAR10_ARCHIVE, "w:gz") as tar:
        for split, names in builders.CIFAR10_FILES.items():
            for name in names:
                records = [_cifar_record(int(rng.integers(10)), rng) for _ in range(2)]
                blob = b"".join(r for r, _ in records)
                expected[split] += [(r[0], p.transpose(1, 2, 0)) for r, p in records]
                member = tarfile.TarInfo(f"{builders.CIFAR10_FOLDER}/{name}")
                member.size = len(blob)
                tar.addfile(member, io.BytesIO(blob))
    ds = load("cifar10", split="train[:100%]", data_dir=str(tmp_path / "data"), manual_dir=str(manual),
              batch_size=None, with_labels=True, shuffle=False)
    x, y = _collect(ds)  # the whole original training split: "train" would leave out the validation tail
    assert x.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(y, [label for label, _ in expected["train"]])
    np.testing.assert_array_equal(x, np.stack([image for _, image in expected["train"]]))


def test_prepared_official_tfds_dataset_comes_first(tmp_path):
    """A prepared official `fashion_mnist` in data_dir wins over local files and the sample."""
    rng = np.random.default_rng(9)
    fake = {"train": _fake_split(rng, 4), "test": _fake_split(rng, 2)}

    class FakeOfficial(tfds.image_classification.FashionMNIST, skip_registration=True):
        name = "fashion_mnist"

        @tfds.core.utils.classproperty
        @classmethod
        def code_path(cls):
            return epath.Path(__file__)

        def _split_generators(self, dl_manager):
            return {split: self._examples(*arrays) for split, arrays in fake.items()}

        def _examples(self, x, y):
            for i in range(len(x)):
                yield i, {"image": x[i], "label": int(y[i])}

    data_dir = str(tmp_path / "data")
    FakeOfficial(data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    x, y = _collect(load("fashion_mnist", data_dir=data_dir, batch_size=None, with_labels=True))
    order = np.lexsort((y, x.reshape(len(x), -1).sum(1)))
    expected_order = np.lexsort((fake["train"][1], fake["train"][0].reshape(4, -1).sum(1)))
    np.testing.assert_array_equal(x[order], fake["train"][0][expected_order])
    np.testing.assert_array_equal(y[order], fake["train"][1][expected_order])


def test_default_folder_is_found_and_an_unwritable_data_dir_falls_back(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "system_files"
    fake = _write_fake_idx_dir(str(folder), seed=11)
    monkeypatch.setitem(images._INFO["fashion_mnist"], "default_dir", str(folder))
    x, _ = _collect(load("fashion_mnist", split="test", data_dir=str(tmp_path / "data"), batch_size=None,
                         with_labels=True))
    np.testing.assert_array_equal(x, fake["test"][0])

    def read_only(*args):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(images, "_prepare_local", read_only)
    with caplog.at_level(logging.INFO, logger="tfar.data"):
        first = next(iter(load("fashion_mnist", split="test", data_dir=str(tmp_path / "other"), batch_size=None)))
    np.testing.assert_array_equal(first.numpy(), images.embedded_arrays("test")[0][0])
    assert any(r.levelno == logging.WARNING and "read-only" in r.getMessage() for r in caplog.records)
    with pytest.raises(PermissionError):  # an explicit folder never falls back silently
        load("fashion_mnist", data_dir=str(tmp_path / "other"), manual_dir=str(folder))


def test_a_preparation_that_loses_the_race_to_another_process_reads_the_winner(tmp_path, monkeypatch):
    """Two trainings started together both prepare; the second's final rename finds the folder taken."""
    folder = tmp_path / "system_files"
    fake = _write_fake_idx_dir(str(folder), seed=12)
    monkeypatch.setitem(images._INFO["fashion_mnist"], "default_dir", str(folder))
    real_prepare = images._prepare_local

    def other_process_wins(builder, files_dir):
        real_prepare(builder, files_dir)  # the other process's preparation, complete
        raise OSError(f"Cannot rename incomplete.X. Destination {builder.data_dir} already exists.")

    monkeypatch.setattr(images, "_prepare_local", other_process_wins)
    x, _ = _collect(load("fashion_mnist", split="test", data_dir=str(tmp_path / "data"), batch_size=None,
                         with_labels=True))
    np.testing.assert_array_equal(x, fake["test"][0])  # the full files, not the embedded fallback


# --- the embedded sample ---------------------------------------------------------------------


def test_embedded_sample_shapes_dtype_range_and_sizes():
    train = load("fashion_mnist", split="train", source="embedded", batch_size=500, with_labels=True)
    x, y = next(iter(train))
    assert x.shape == (500, 28, 28, 1) and x.dtype == tf.int32
    assert y.shape == (500,) and y.dtype == tf.int32
    x, y = x.numpy(), y.numpy()
    assert 0 <= x.min() and x.max() <= 255 and x.max() > 200
    assert set(np.unique(y)) <= set(range(10)) and len(np.unique(y)) == 10
    sizes = {
        split: sum(int(b.shape[0]) for b in load("fashion_mnist", split=split, source="embedded", batch_size=256))
        for split in ("train", "validation", "test")
    }
    assert sizes == {"train": 1800, "validation": 200, "test": 500} == dataset_info("fashion_mnist")["embedded_splits"]


def _content_hashes(split, **kwargs):
    batches = load("fashion_mnist", split=split, batch_size=10000, shuffle=False, **kwargs)
    x = np.concatenate([b.numpy() for b in batches])
    return x, {hashlib.sha1(row.tobytes()).hexdigest() for row in x}


def _assert_disjoint_splits(expected_sizes, **kwargs):
    keys = {}
    for split, size in expected_sizes.items():
        x, keys[split] = _content_hashes(split, **kwargs)
        assert len(x) == size
        assert len(keys[split]) > 0.99 * size  # images, not one repeated image
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]


def test_embedded_train_validation_and_test_are_disjoint_by_content():
    _assert_disjoint_splits({"train": 1800, "validation": 200, "test": 500}, source="embedded")


def test_validation_is_the_tail_of_the_original_training_split():
    original = images.embedded_arrays("train")[0].astype(np.int32)
    train, _ = _content_hashes("train", source="embedded")
    validation, _ = _content_hashes("validation", source="embedded")
    np.testing.assert_array_equal(np.concatenate([train, validation]), original)
    assert images.source_split("validation", {"train": 60000, "test": 10000}) == "train[55000:]"
    assert images.source_split("test", {"train": 60000, "test": 10000}) == "test"
    assert images.source_split("validation", {"train": 5, "validation": 2, "test": 1}) == "validation"


@pytest.mark.skipif(not HAS_DEBIAN, reason="needs the dataset-fashion-mnist Debian files")
def test_embedded_sample_is_the_head_of_the_original_files():
    for split, n in images.EMBEDDED_SPLITS.items():
        x, y = images.embedded_arrays(split)
        full_x, full_y = builders.read_idx_split(DEBIAN_DIR, split)
        np.testing.assert_array_equal(x, full_x[:n])
        np.testing.assert_array_equal(y, full_y[:n])


def test_auto_falls_back_to_embedded_with_an_info_line(no_debian, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="tfar.data"):
        ds = load("fashion_mnist", split="test", data_dir=str(tmp_path / "d"), batch_size=None, shuffle=False)
    first = next(iter(ds)).numpy()
    np.testing.assert_array_equal(first, images.embedded_arrays("test")[0][0].astype(np.int32))
    lines = [r.getMessage() for r in caplog.records if "embedded" in r.getMessage()]
    assert len(lines) == 1 and "2,000" in lines[0] and "TFAR_FASHION_MNIST_DIR" in lines[0]


def test_embedded_split_slicing_and_limit():
    x = np.concatenate(list(load("fashion_mnist", split="test[:10%]", source="embedded", shuffle=False)))
    np.testing.assert_array_equal(x, images.embedded_arrays("test")[0][:50])
    ds = load("fashion_mnist", source="embedded", limit=7, batch_size=None)
    assert len(list(ds)) == 7


# --- pipeline options ---------------------------------------------------------------------------


def test_shuffle_defaults_train_shuffled_test_in_order():
    raw_train = images.embedded_arrays("train")[0].astype(np.int32)
    train = next(iter(load("fashion_mnist", split="train", source="embedded", batch_size=64))).numpy()
    assert not np.array_equal(train, raw_train[:64])
    raw_test = images.embedded_arrays("test")[0].astype(np.int32)
    test = next(iter(load("fashion_mnist", split="test", source="embedded", batch_size=64))).numpy()
    np.testing.assert_array_equal(test, raw_test[:64])
    single = next(iter(load("fashion_mnist", source="embedded", batch_size=None)))
    assert single.shape == (28, 28, 1)


def test_repeat_and_seeded_shuffle():
    a = next(iter(load("fashion_mnist", source="embedded", batch_size=16, seed=4))).numpy()
    b = next(iter(load("fashion_mnist", source="embedded", batch_size=16, seed=4))).numpy()
    np.testing.assert_array_equal(a, b)
    ds = load("fashion_mnist", split="test", source="embedded", batch_size=100, repeat=2)
    assert sum(int(x.shape[0]) for x in ds) == 1000


def test_num_levels_quantization():
    raw = images.embedded_arrays("test")[0][:32].astype(np.int32)
    x = next(iter(load("fashion_mnist", split="test", source="embedded", num_levels=4))).numpy()
    np.testing.assert_array_equal(x, raw * 4 // 256)
    assert set(np.unique(x)) == {0, 1, 2, 3}


def test_fixed_binarization():
    raw = images.embedded_arrays("test")[0][:32]
    x = next(iter(load("fashion_mnist", split="test", source="embedded", binarize="fixed"))).numpy()
    assert x.dtype == np.int32 and set(np.unique(x)) == {0, 1}
    np.testing.assert_array_equal(x, (raw >= 128).astype(np.int32))


def test_dynamic_binarization_is_bernoulli_seeded_and_fresh_each_epoch():
    raw = images.embedded_arrays("test")[0][:256].astype(np.float64)
    ds = load("fashion_mnist", split="test", source="embedded", binarize="dynamic", batch_size=256, limit=256, seed=1)
    epoch1 = next(iter(ds)).numpy()
    epoch2 = next(iter(ds)).numpy()
    assert set(np.unique(epoch1)) == {0, 1}
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(epoch1[raw == 0], 0)
    np.testing.assert_array_equal(epoch1[raw == 255], 1)
    # The mean of Bernoulli(x / 255) over ~200k pixels is within 1% of the mean probability.
    assert abs(epoch1.mean() - (raw / 255).mean()) < 0.01
    again = load("fashion_mnist", split="test", source="embedded", binarize="dynamic", batch_size=256, limit=256, seed=1)
    np.testing.assert_array_equal(next(iter(again)).numpy(), epoch1)
    within_one_pass = load("fashion_mnist", split="test", source="embedded", binarize="dynamic",
                           batch_size=256, limit=256, seed=1, repeat=2)
    first, second = [b.numpy() for b in within_one_pass]
    assert not np.array_equal(first, second)


# --- errors -----------------------------------------------------------------------------------------


def test_unknown_name_lists_the_datasets():
    with pytest.raises(ValueError, match="svhn") as info:
        load("svhn")
    for name in DATASETS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="fashion_mnist, mnist, binarized_mnist, cifar10"):
        dataset_info("svhn")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(binarize="otsu"), "'otsu'"),
        (dict(binarize=True), "True"),
        (dict(num_levels=1), "num_levels"),
        (dict(num_levels=300), "300"),
        (dict(binarize="fixed", num_levels=16), "16"),
        (dict(batch_size=0), "batch_size"),
        (dict(limit=-1), "limit"),
        (dict(source="web"), "'web'"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load("fashion_mnist", **{"source": "embedded", **kwargs})


def test_missing_mnist_files_name_the_folder_and_env_var(tmp_path):
    with pytest.raises(ValueError) as info:
        load("mnist", data_dir=str(tmp_path / "data"))
    message = str(info.value)
    for part in ("TFAR_MNIST_DIR", "manual_dir", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 str(tmp_path / "data")):
        assert part in message


def test_incomplete_manual_dir_names_it_and_what_lacks(tmp_path, monkeypatch):
    partial = tmp_path / "partial"
    _write_fake_idx_dir(str(partial))
    os.remove(partial / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"manual_dir=.*partial.*lacks t10k-labels-idx1-ubyte.gz"):
        load("fashion_mnist", data_dir=str(tmp_path / "data"), manual_dir=str(partial))
    monkeypatch.setenv("TFAR_CIFAR10_DIR", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match=r"\$TFAR_CIFAR10_DIR=.*nothing.*cifar-10-binary.tar.gz"):
        load("cifar10", data_dir=str(tmp_path / "data"))


def test_full_source_never_uses_the_sample(no_debian, tmp_path):
    with pytest.raises(ValueError, match="TFAR_FASHION_MNIST_DIR"):
        load("fashion_mnist", data_dir=str(tmp_path / "data"), source="full")
    with pytest.raises(ValueError, match="only available for fashion_mnist"):
        load("mnist", source="embedded")


def test_binarized_mnist_needs_the_official_builder(tmp_path):
    with pytest.raises(ValueError, match="tfds build binarized_mnist"):
        load("binarized_mnist", data_dir=str(tmp_path / "data"))
    with pytest.raises(ValueError, match="no labels"):
        load("binarized_mnist", with_labels=True)
    with pytest.raises(ValueError, match="already binary"):
        load("binarized_mnist", binarize="fixed")


def test_unreachable_host_is_detected_quickly():
    assert images._reachable("tfar-test.invalid", 80, timeout=2.0) is False


def test_dataset_info():
    info = dataset_info("cifar10")
    assert info["image_shape"] == (32, 32, 3) and info["num_classes"] == 10 and info["num_levels"] == 256
    assert dataset_info("binarized_mnist")["num_classes"] is None
    assert dataset_info("binarized_mnist")["num_levels"] == 2
    assert dataset_info("mnist")["splits"] == {"train": 55000, "validation": 5000, "test": 10000}
    assert dataset_info("mnist")["source_splits"] == {"train": 60000, "test": 10000}
    assert dataset_info("binarized_mnist")["splits"] == {"train": 50000, "validation": 10000, "test": 10000}
    info["splits"]["train"] = 0
    assert dataset_info("cifar10")["splits"]["train"] == 45000


# --- the full Fashion-MNIST from the Debian package ------------------------------------------------
# Preparing the full set takes 9 s on an idle 2-core machine and 25-45 s when it is shared, too slow
# for a temporary data_dir in every run. This test uses the real default data_dir instead
# ($TFDS_DATA_DIR or ~/tensorflow_datasets, read before the autouse fixture redirects it): the first
# run prepares there once, later runs only read.


@pytest.mark.skipif(not HAS_DEBIAN, reason="needs the dataset-fashion-mnist Debian files")
def test_full_fashion_mnist_from_debian_files(monkeypatch, caplog):
    monkeypatch.setenv("TFDS_DATA_DIR", REAL_DATA_DIR)
    with caplog.at_level(logging.INFO, logger="tfar.data"):
        sizes = {
            split: sum(int(b.shape[0]) for b in load("fashion_mnist", split=split, source="full",
                                                     batch_size=10000, shuffle=False))
            for split in ("train", "validation", "test")
        }
    assert sizes == {"train": 55000, "validation": 5000, "test": 10000}
    assert not any("embedded" in r.getMessage() for r in caplog.records)
    builder = builders.TfarFashionMnist(data_dir=REAL_DATA_DIR)
    if builder.is_prepared():  # tfar's builder keeps the original order (the official one shuffles)
        x, y = next(iter(builder.as_dataset(split="train", as_supervised=True, batch_size=3)))
        full_x, full_y = builders.read_idx_split(DEBIAN_DIR, "train")
        np.testing.assert_array_equal(x.numpy(), full_x[:3])
        np.testing.assert_array_equal(y.numpy(), full_y[:3])


@pytest.mark.skipif(not HAS_DEBIAN, reason="needs the dataset-fashion-mnist Debian files")
def test_full_train_validation_and_test_are_disjoint_by_content(monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", REAL_DATA_DIR)
    _assert_disjoint_splits({"train": 55000, "validation": 5000, "test": 10000}, source="full")

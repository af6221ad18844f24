"""TFDS builders that prepare tfar's image datasets from local files, without a download.

Each builder reads the original distribution files from ``dl_manager.manual_dir``
and writes an ordinary TFDS dataset (features ``image`` uint8 and ``label``
ClassLabel(10)), in the original example order:

* ``tfar_fashion_mnist`` and ``tfar_mnist``: the four IDX files
  (LeCun et al. 1998; Xiao et al. 2017, arXiv:1708.07747), gzipped or not.
* ``tfar_cifar10``: ``cifar-10-binary.tar.gz`` or its extracted
  ``cifar-10-batches-bin/`` (Krizhevsky 2009).

The IDX format is a big-endian header ``00 00 <type> <ndim>``, ``ndim`` uint32
sizes, then the array in row-major order; only type 0x08 (uint8) is used by
these datasets.
"""

import gzip
import inspect
import os
import struct
import tarfile

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_LABELS = tuple(str(i) for i in range(10))
CIFAR10_LABELS = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data):
    """Parse IDX bytes (gzipped or plain) into a numpy array (native byte order).

    Written here because no library reads IDX publicly: TFDS's own MNIST builders parse the
    same header (two zero bytes, a type code, the rank, one big-endian word per dimension).
    """
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file: the first two bytes must be zero")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"unknown IDX type code {type_code:#04x}, expected one of {sorted(_IDX_DTYPES)}")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(f"IDX payload has {len(data) - header} bytes, header {shape} needs {count * dtype.itemsize}")
    array = np.frombuffer(data, dtype=dtype, offset=header, count=count).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file (gzipped or plain) into a numpy array."""
    with open(path, "rb") as f:
        return parse_idx(f.read())


def write_idx(path, array):
    """Write a uint8 array as IDX, gzipped (with mtime 0, reproducible) when ``path`` ends in .gz."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx only writes uint8 arrays, got dtype {array.dtype}")
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(payload)
    else:
        with open(path, "wb") as f:
            f.write(payload)


def find_idx_file(directory, name):
    """``directory/name`` or its ungzipped twin; None when neither exists."""
    for candidate in (name, name[: -len(".gz")]):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def missing_idx_files(directory):
    """Names of the IDX files that ``directory`` lacks (all four when it does not exist)."""
    names = [name for pair in IDX_FILES.values() for name in pair]
    if not directory or not os.path.isdir(directory):
        return names
    return [name for name in names if find_idx_file(directory, name) is None]


def read_idx_split(directory, split):
    """(images uint8 [N, H, W, 1], labels uint8 [N]) of one split from ``directory``."""
    if split not in IDX_FILES:
        raise ValueError(f"split must be one of {sorted(IDX_FILES)}, got {split!r}")
    arrays = []
    for name in IDX_FILES[split]:
        path = find_idx_file(directory, name)
        if path is None:
            raise FileNotFoundError(f"{name} (or its ungzipped form) not found in {directory}")
        arrays.append(read_idx(path))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    return images[..., None].astype(np.uint8), labels.astype(np.uint8)


def missing_cifar10_files(directory):
    """Empty list when ``directory`` holds the CIFAR-10 binary archive or batches, else what is wanted."""
    if directory and _cifar10_source(directory) is not None:
        return []
    return [f"{CIFAR10_ARCHIVE} (or the extracted {CIFAR10_FOLDER}/ with data_batch_1..5.bin and test_batch.bin)"]


def _cifar10_source(directory):
    """The tar archive or the folder with the .bin batches inside ``directory``, or None."""
    wanted = CIFAR10_FILES["train"] + CIFAR10_FILES["test"]
    for folder in (os.path.join(directory, CIFAR10_FOLDER), directory):
        if all(os.path.isfile(os.path.join(folder, name)) for name in wanted):
            return folder
    archive = os.path.join(directory, CIFAR10_ARCHIVE)
    return archive if os.path.isfile(archive) else None


def parse_cifar10_batch(data):
    """(images uint8 [N, 32, 32, 3], labels uint8 [N]) from one CIFAR-10 binary batch.

    Each record is 1 label byte then 3072 pixel bytes: the 1024 red, 1024 green and
    1024 blue values of the 32x32 image, each plane in row-major order. (TFDS's cifar10
    builder reads the same records with a private function, so it is written here.)
    """
    record = 1 + 3 * 32 * 32
    if len(data) % record:
        raise ValueError(f"CIFAR-10 batch of {len(data)} bytes is not a whole number of {record}-byte records")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    images = rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, 0].copy()


def read_cifar10_split(directory, split):
    """(images, labels) of one CIFAR-10 split from the archive or folder in ``directory``."""
    source = _cifar10_source(directory)
    if source is None:
        raise FileNotFoundError(f"no {CIFAR10_ARCHIVE} or {CIFAR10_FOLDER}/ in {directory}")
    batches = []
    if os.path.isdir(source):
        for name in CIFAR10_FILES[split]:
            with open(os.path.join(source, name), "rb") as f:
                batches.append(parse_cifar10_batch(f.read()))
    else:
        with tarfile.open(source, "r:gz") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            for name in CIFAR10_FILES[split]:
                if name not in members:
                    raise FileNotFoundError(f"{name} is missing from {source}")
                batches.append(parse_cifar10_batch(tar.extractfile(members[name]).read()))
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return images, labels


class _LocalImageBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared part: two splits, examples in file order, ``image`` + ``label`` features."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Prepared from local files by tfar."}
    IMAGE_SHAPE = None
    LABEL_NAMES = None
    HOMEPAGE = None
    DESCRIPTION = None

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS's own lookup imports the optional `importlib_resources` backport;
        # the file of the class is all it needs here.
        try:
            return epath.Path(inspect.getfile(cls))
        except (TypeError, OSError):  # e.g. a subclass defined in __main__ or a notebook
            return None

    def _info(self):
        return self.dataset_info_from_configs(
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=self.IMAGE_SHAPE, dtype=np.uint8),
                    "label": tfds.features.ClassLabel(names=list(self.LABEL_NAMES)),
                }
            ),
            supervised_keys=("image", "label"),
            disable_shuffling=True,
            homepage=self.HOMEPAGE,
        )

    def _split_generators(self, dl_manager):
        directory = os.fspath(dl_manager.manual_dir)
        return {split: self._generate_examples(directory, split) for split in ("train", "test")}

    def _read_split(self, directory, split):
        raise NotImplementedError

    def _generate_examples(self, directory, split):
        images, labels = self._read_split(directory, split)
        for index in range(len(images)):
            yield index, {"image": images[index], "label": int(labels[index])}


_IDX_FILE_LIST = "{}, {}, {} and {}".format(*IDX_FILES["train"], *IDX_FILES["test"])


class _IdxImageBuilder(_LocalImageBuilder, skip_registration=True):
    """A 28x28 grey dataset read from the four IDX files of ``IDX_FILES`` (gzipped or not)."""

    IMAGE_SHAPE = (28, 28, 1)

    def _read_split(self, directory, split):
        return read_idx_split(directory, split)


class TfarFashionMnist(_IdxImageBuilder):
    """Fashion-MNIST (Xiao et al. 2017) from the four original IDX files in ``manual_dir``."""

    LABEL_NAMES = FASHION_MNIST_LABELS
    HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"
    DESCRIPTION = "Fashion-MNIST, 60,000 train and 10,000 test 28x28 grey images of 10 clothing classes (MIT)."
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Put {_IDX_FILE_LIST} from https://github.com/zalandoresearch/fashion-mnist in manual_dir "
        "(the Debian package dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist)."
    )


class TfarMnist(_IdxImageBuilder):
    """MNIST (LeCun et al. 1998) from the four original IDX files in ``manual_dir``."""

    LABEL_NAMES = MNIST_LABELS
    HOMEPAGE = "http://yann.lecun.com/exdb/mnist/"
    DESCRIPTION = "MNIST, 60,000 train and 10,000 test 28x28 grey images of handwritten digits."
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Put {_IDX_FILE_LIST} (the original MNIST IDX files, gzipped or not) in manual_dir."
    )


class TfarCifar10(_LocalImageBuilder):
    """CIFAR-10 (Krizhevsky 2009) from ``cifar-10-binary.tar.gz`` or ``cifar-10-batches-bin/``."""

    IMAGE_SHAPE = (32, 32, 3)
    LABEL_NAMES = CIFAR10_LABELS
    HOMEPAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
    DESCRIPTION = "CIFAR-10, 50,000 train and 10,000 test 32x32 colour images of 10 classes."
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put cifar-10-binary.tar.gz (the 'CIFAR-10 binary version' from "
        "https://www.cs.toronto.edu/~kriz/cifar.html), or its extracted cifar-10-batches-bin/ folder, "
        "in manual_dir."
    )

    def _read_split(self, directory, split):
        return read_cifar10_split(directory, split)


BUILDERS = {"fashion_mnist": TfarFashionMnist, "mnist": TfarMnist, "cifar10": TfarCifar10}

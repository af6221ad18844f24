"""Shared pytest setup: quiet TensorFlow and seed every generator."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield


# `make test` runs `pytest -n 2 --dist loadfile`: xdist hands out whole files, by default those with the
# most tests first, so files holding a few tests that run for minutes (the notebooks, the benches) would
# start last and leave one worker running alone at the end. They start first instead (longest first);
# images and audio notebooks are a long file apart, since a worker with <= 2 tests left takes the next file
# at once. The other files keep xdist's order (most tests first).
LONG_FILES_FIRST = ("test_colab_images.py", "test_bench.py", "training/test_distribute.py", "test_colab_audio.py",
                    "models/test_pixelcnn_pp.py", "test_export.py", "training/test_multi_worker.py")


def pytest_configure(config):
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False  # the order below is the order files are handed out


def pytest_collection_modifyitems(session, config, items):
    tests = os.path.dirname(os.path.abspath(__file__))
    files = {item: os.path.relpath(str(item.path), tests).replace(os.sep, "/") for item in items}
    counts = {}
    for name in files.values():
        counts[name] = counts.get(name, 0) + 1

    def rank(item):
        name = files[item]
        return (LONG_FILES_FIRST.index(name), 0) if name in LONG_FILES_FIRST else (len(LONG_FILES_FIRST), -counts[name])

    items.sort(key=rank)  # stable: each file's tests keep their order

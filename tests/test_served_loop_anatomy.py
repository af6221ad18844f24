"""bench/served_loop_anatomy.py counts the ops of the exported sample loop's iteration, on tiny models."""

import importlib.util
import os

import pytest

from tfar import zoo

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "served_loop_anatomy.py")


@pytest.fixture(scope="module")
def anatomy():
    spec = importlib.util.spec_from_file_location("served_loop_anatomy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count(anatomy, tmp_path, name, **overrides):
    config = dict(anatomy.served_sampling().TINY[name], **overrides)
    model = zoo.load(name, pretrained=False, **config)
    directory = tmp_path / f"{name}_{len(list(tmp_path.iterdir()))}"
    return anatomy.count_loop(anatomy.export(model, str(directory)))


@pytest.mark.parametrize("name, size, small, large", [("gated_pixelcnn", "num_layers", 2, 4),
                                                      ("wavenet", "layers_per_stack", 2, 4)])
def test_counts_grow_with_layers(anatomy, tmp_path, name, size, small, large):
    few, many = (count(anatomy, tmp_path, name, **{size: n}) for n in (small, large))
    for counted in (few, many):
        assert counted["ops"] > 0 and counted["loop_vars"] > 0
        assert sum(counted["by_type"].values()) == counted["ops"]
        assert not set(counted["by_type"]) & {"Identity", "NoOp", "PartitionedCall", "StatefulPartitionedCall"}
        assert sum(counted["conditional_by_type"].values()) == counted["conditional_ops"]
    assert many["ops"] > few["ops"]
    if name == "gated_pixelcnn":  # the row-start work runs in a zero-or-one loop: counted apart
        assert few["conditional_ops"] > 0 and many["conditional_ops"] > few["conditional_ops"]
    else:
        assert few["conditional_ops"] == 0

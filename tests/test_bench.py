"""The PixelCNN++ vs tfp benchmark script runs end to end in its quick mode."""

import gzip
import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "pixelcnn_pp_vs_tfp.py")


def load_bench():
    spec = importlib.util.spec_from_file_location("pixelcnn_pp_vs_tfp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_idx_reader_round_trip(tmp_path):
    bench = load_bench()
    images = np.random.default_rng(0).integers(0, 256, size=[3, 4, 5], dtype=np.uint8)
    header = np.array([2051, 3, 4, 5], ">i4").tobytes()
    path = str(tmp_path / "x-idx3-ubyte.gz")
    with gzip.open(path, "wb") as f:
        f.write(header + images.tobytes())
    np.testing.assert_array_equal(bench.read_idx_images(path)[..., 0], images)
    bad = str(tmp_path / "bad")
    with open(bad, "wb") as f:
        f.write(np.array([2049, 3, 4, 5], ">i4").tobytes())
    with pytest.raises(ValueError):
        bench.read_idx_images(bad)


def test_quick_run_writes_results(tmp_path):
    bench = load_bench()
    stem = str(tmp_path / "result")
    result = bench.main(["--quick", "--output", stem])
    with open(stem + ".json") as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(result))
    assert saved["quick"] and saved["test_images"] == 64
    assert saved["config"]["num_filters"] == 32 and saved["config"]["num_hierarchies"] == 2
    for name in ("tfar", "tfp"):
        entry = saved[name]
        assert entry["images_trained"] > 0 and entry["images_per_second_median"] > 0
        assert 0 < entry["test_bits_per_dim"] < 16
    assert saved["speed_ratio_median"] > 0
    with open(stem + ".md") as f:
        text = f.read()
    assert "--quick" in text and "bits/dim" in text

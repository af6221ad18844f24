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


def load_anatomy():
    spec = importlib.util.spec_from_file_location(
        "pixelcnn_pp_step_anatomy", os.path.join(ROOT, "bench", "pixelcnn_pp_step_anatomy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_flops_counted_from_the_layers():
    """35.75 GFLOP: the network's MACs, counted by hand per layer, times 2 (forward) and 3 (with backward)."""
    anatomy = load_anatomy()
    from tfar.models.pixelcnn_pp import PixelCNNPlusPlus

    model = PixelCNNPlusPlus((28, 28, 1), num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5,
                             dropout_p=0.3)
    layers = anatomy.matmul_layers(model, batch_size=1)
    full, half = 28 * 28, 14 * 14
    f = 32
    init = full * f * 2 * (6 + 3 + 2)  # 2 input channels (image, ones), 2x3 / 1x3 / 2x1 kernels
    u_block = 6 * 2 * f * f + 6 * 2 * f * 2 * f  # 2x3 kernels, concat_elu doubles the input channels
    ul_block = 4 * 2 * f * f + 4 * 2 * f * 2 * f  # 2x2 kernels
    blocks = 3 * full * (u_block + ul_block) + 2 * half * (u_block + ul_block)
    aux = 2 * f * f * (3 * full + 2 * half) + 4 * f * f * (half + 2 * full)  # 1x1 projections of concat_elu(a)
    resample = half * (6 + 4) * f * f * 2  # stride-2 convs and transposed convs
    head = full * f * 15
    macs = init + blocks + aux + resample + head
    assert sum(m for *_, m, _ in layers) == macs
    first = sum(m for layer, _, m, _ in layers if layer.name.startswith("init"))
    assert first == init
    assert anatomy.step_gflop(layers) == pytest.approx(2 * (3 * macs - init) / 1e9)


def test_anatomy_quick_run_writes_results(tmp_path):
    anatomy = load_anatomy()
    stem = str(tmp_path / "anatomy")
    result = anatomy.main(["--quick", "--output", stem])
    with open(stem + ".json") as f:
        assert json.load(f) == json.loads(json.dumps(result))
    ms = result["step_ms_median"]
    assert set(ms) == {"tfp", "tfar", "tfar_xla", "tfar_mixed_bfloat16", "tfar_matmul_work_only"}
    assert all(v > 0 for v in ms.values())
    assert result["budget_for_2x_ms"] == pytest.approx(ms["tfp"] / 2, abs=0.01)
    assert sum(layer["count"] for layer in result["layers"]) == 36  # 3 + 2 * 10 + 8 + 4 + 1
    with open(stem + ".md") as f:
        assert "lower bound" in f.read()


def test_sampling_quick_run_writes_results(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "pixelcnn_pp_sampling_vs_tfp", os.path.join(ROOT, "bench", "pixelcnn_pp_sampling_vs_tfp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stem = str(tmp_path / "sampling")
    result = module.main(["--quick", "--output", stem])
    with open(stem + ".json") as f:
        assert json.load(f) == json.loads(json.dumps(result))
    assert result["config"]["image_shape"] == [8, 8, 1] and result["num_images"] == 4
    assert set(result["seconds_median"]) == {"tfar_fast", "tfar_naive", "tfp", "tfp_tf_function"}
    assert all(v > 0 for v in result["seconds_median"].values())
    assert set(result["speedup_vs_tfp"]) == {"tfar_fast", "tfar_naive", "tfp_tf_function"}
    with open(stem + ".md") as f:
        assert "PixelCNN.sample" in f.read()

"""The PixelCNN++ vs tfp and WaveNet sampling benchmark scripts, run end to end on tiny networks: their reported medians and
ratios follow from the timings they report, and fast == naive sampling is checked. No speed is asserted."""

import gzip
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys

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


TINY = dict(num_resnet=1, num_hierarchies=2, num_filters=8, num_logistic_mix=2, dropout_p=0.3)


def test_short_run_reports_consistent_medians_and_ratios(tmp_path, monkeypatch):
    """A tiny network and 2 x 0.5 s chunks: every reported median and ratio follows from the chunks."""
    bench = load_bench()
    monkeypatch.setattr(bench, "CONFIG", TINY)
    made, make_tfar = [], bench.make_tfar

    def recording_make_tfar(*args, **kwargs):
        made.append(kwargs)
        return make_tfar(*args, **kwargs)

    monkeypatch.setattr(bench, "make_tfar", recording_make_tfar)
    stem = str(tmp_path / "result")
    budget, chunk, batch = 1.0, 0.5, 8
    result = bench.main(["--budget", str(budget), "--chunk", str(chunk), "--test-size", "16",
                         "--batch-size", str(batch), "--wn-output-init-scale", "1.0", "--output", stem])
    assert made == [{}, dict(weight_norm=True, output_init_scale=1.0)]  # the scale reaches tfar_wn alone
    with open(stem + ".json") as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(result))
    assert not saved["quick"] and saved["test_images"] == 16 and saved["config"]["num_filters"] == 8
    chunks = {name: saved[name]["images_per_second_chunks"] for name in ("tfar", "tfar_wn", "tfp")}
    for name, rates in chunks.items():
        entry = saved[name]
        assert len(rates) == math.ceil(budget / chunk), name  # alternating chunks until the budget is spent
        assert entry["images_per_second_median"] == pytest.approx(statistics.median(rates), abs=0.011)
        assert entry["train_seconds"] >= budget  # each chunk runs until its seconds have passed
        assert entry["images_trained"] % batch == 0 and entry["images_trained"] >= batch * len(rates)
        assert entry["compile_seconds"] > 0  # the first (tracing) step is reported apart from the chunks
        assert math.isfinite(entry["final_train_loss_nats_per_dim"]) and 0 < entry["test_bits_per_dim"] < 16
    for key, name in (("speed_ratio_median", "tfar"), ("speed_ratio_wn_median", "tfar_wn")):
        paired = statistics.median(a / b for a, b in zip(chunks[name], chunks["tfp"]))
        assert saved[key] == pytest.approx(paired, rel=0.01, abs=0.002), key
    with open(stem + ".md") as f:
        text = f.read()
    assert f"tfar **{saved['speed_ratio_median']}x**" in text and "bits/dim" in text
    assert saved["config"]["tfar_wn_output_init_scale"] == 1.0 and "(output init scale 1)" in text


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


def test_anatomy_quick_run_writes_results(tmp_path, monkeypatch):
    """The tiny network (same layer structure: 36 matmul layers) at batch 4: the timings are not checked."""
    anatomy = load_anatomy()
    monkeypatch.setattr(anatomy.side_by_side, "CONFIG", TINY)
    stem = str(tmp_path / "anatomy")
    result = anatomy.main(["--quick", "--batch-size", "4", "--output", stem])
    assert result["config"]["num_filters"] == 8 and result["config"]["batch_size"] == 4
    with open(stem + ".json") as f:
        assert json.load(f) == json.loads(json.dumps(result))
    ms = result["step_ms_median"]
    assert set(ms) == {"tfp", "tfar", "tfar_xla", "tfar_mixed_bfloat16", "tfar_matmul_work_only"}
    assert all(v > 0 for v in ms.values())
    assert result["budget_for_2x_ms"] == pytest.approx(ms["tfp"] / 2, abs=0.01)
    assert sum(layer["count"] for layer in result["layers"]) == 36  # 3 + 2 * 10 + 8 + 4 + 1
    with open(stem + ".md") as f:
        assert "lower bound" in f.read()


def load_sampling():
    spec = importlib.util.spec_from_file_location(
        "pixelcnn_pp_sampling_vs_tfp", os.path.join(ROOT, "bench", "pixelcnn_pp_sampling_vs_tfp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_sampling(tmp_path, monkeypatch, plant=None):
    module = load_sampling()
    monkeypatch.setattr(module.side_by_side, "CONFIG", TINY)
    if plant:
        samplers = module.samplers
        monkeypatch.setattr(module, "samplers", lambda *args: plant(samplers(*args)))
    stem = str(tmp_path / "sampling")
    result = module.main(["--quick", "--num", "2", "--skip", "tfp", "--output", stem])
    with open(stem + ".json") as f:
        assert json.load(f) == json.loads(json.dumps(result))
    return result, stem


def test_sampling_quick_run_reports_medians_ratios_and_fast_equal_to_naive(tmp_path, monkeypatch):
    result, stem = run_sampling(tmp_path, monkeypatch)
    assert result["config"]["image_shape"] == [8, 8, 1] and result["num_images"] == 2
    names = {"tfar_fast", "tfar_naive", "tfp_tf_function"}
    assert set(result["seconds_median"]) == set(result["first_draw_seconds"]) == names  # warm-up reported apart
    assert result["rounds"] == 3
    for name, rounds in result["seconds_rounds"].items():
        assert len(rounds) == 3 and result["seconds_median"][name] == statistics.median(rounds), name
    tfp_rounds = result["seconds_rounds"]["tfp_tf_function"]
    for name in ("tfar_fast", "tfar_naive"):  # the median of paired ratios, within the rounding to milliseconds
        pairs = list(zip(tfp_rounds, result["seconds_rounds"][name]))
        low = statistics.median((t - 5e-4) / (x + 5e-4) for t, x in pairs)
        high = statistics.median((t + 5e-4) / max(x - 5e-4, 1e-9) for t, x in pairs)
        assert low - 0.005 <= result["speedup_vs_tfp_tf_function"][name] <= high + 0.005, name
    assert result["tfar_fast_equals_naive"] is True
    with open(stem + ".md") as f:
        assert "PixelCNN.sample" in f.read()


def test_sampling_bench_reports_a_planted_fast_naive_difference(tmp_path, monkeypatch):
    def plant(draws):
        naive = draws["tfar_naive"]
        return dict(draws, tfar_naive=lambda seed: (naive(seed) + 1) % 256)

    result, _ = run_sampling(tmp_path, monkeypatch, plant)
    assert result["tfar_fast_equals_naive"] is False


def test_wavenet_sampling_quick_run_reports_medians_and_fast_equal_to_naive(tmp_path, monkeypatch):
    bench_dir = os.path.dirname(SCRIPT)
    monkeypatch.syspath_prepend(bench_dir)  # the script imports its sibling image_sampling_cpu
    spec = importlib.util.spec_from_file_location("wavenet_sampling", os.path.join(bench_dir, "wavenet_sampling.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick", "--repeats", "3"])
    assert set(result["runs"]) == {"r9y9_batch1", "r9y9_batch2"}
    for name, run in result["runs"].items():
        assert run["identical_on_naive_positions"] is True, name
        for method in ("fast", "naive"):
            cpu = run[method]["cpu_runs"]
            scale = run["length"] / run["naive"]["extrapolated_from_positions"] if method == "naive" else 1.0
            # the runs are rounded to milliseconds before they are reported
            assert len(cpu) == 3 and abs(run[method]["cpu_seconds"] - statistics.median(cpu) * scale) <= 6e-4 * scale
        assert run["naive"]["extrapolated_from_positions"] == 8 and run["length"] == 32


def test_gated_pixelcnn_anatomy_quick_run_against_head(tmp_path):
    """A 2-layer Gated PixelCNN at batch 4 next to the model files of git HEAD: shares add up, log_probs agree."""
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    # its own process: the script pins TF to one thread, which only a fresh TF runtime allows
    stem = str(tmp_path / "gated")
    script = os.path.join(ROOT, "bench", "gated_pixelcnn_step_anatomy.py")
    run = subprocess.run([sys.executable, script, "--quick", "--against", "HEAD", "--profile", "--output", stem],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(stem + ".json") as f:
        result = json.load(f)
    assert result["config"]["num_layers"] == 2 and result["batch_size"] == 4
    assert all(v > 0 for v in result["ms_median"].values()) and "step at HEAD" in result["ms_median"]
    assert sum(result["step_shares"].values()) == pytest.approx(1.0, abs=0.01)
    assert result["against"]["log_prob_max_rel_diff"] < 1e-5
    assert set(result["ratios_median_over_rounds"]) == {"step at HEAD / step"}
    assert result["op_types_ms_per_step"]
    with open(stem + ".md") as f:
        assert "share of the step" in f.read()


def test_pixelcnn_pp_anatomy_quick_run_against_head(tmp_path):
    """The tiny PixelCNN++ at batch 4, plain and weight-normalised, next to the model files of git HEAD:
    the same weights give the same log_probs, and every requested figure is reported."""
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    # its own process: --threads pins TF's thread pools, which only a fresh TF runtime allows
    stem = str(tmp_path / "anatomy")
    script = os.path.join(ROOT, "bench", "pixelcnn_pp_step_anatomy.py")
    run = subprocess.run([sys.executable, script, "--quick", "--tiny", "--batch-size", "4", "--against", "HEAD",
                          "--weight-norm", "--profile", "--threads", "1", "--output", stem],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(stem + ".json") as f:
        result = json.load(f)
    assert result["config"]["num_filters"] == 8 and result["config"]["batch_size"] == 4 and result["threads"] == 1
    names = {"tfar", "tfar_at_rev", "tfar_wn", "tfar_wn_at_rev"}
    assert names <= set(result["step_ms_median"]) and all(v > 0 for v in result["step_ms_median"].values())
    against = result["against"]
    assert set(against["speedup_vs_revision"]) == set(against["log_prob_max_rel_diff"]) == {"tfar", "tfar_wn"}
    assert all(diff < 1e-5 for diff in against["log_prob_max_rel_diff"].values())
    for name, speedup in against["speedup_vs_revision"].items():
        rounds = result["step_ms_rounds"]
        assert speedup == pytest.approx(statistics.median(
            o / n for o, n in zip(rounds[f"{name}_at_rev"], rounds[name])), abs=1e-3)
    assert set(result["op_types_ms_per_step"]) == names
    with open(stem + ".md") as f:
        text = f.read()
    assert "at HEAD, same weights" in text and "TF profiler" in text

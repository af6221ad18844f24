"""``tfar bench`` on tiny versions of the zoo configurations (seconds): the report's fields are
present and consistent with each other, and its verdict on fast == naive is checked independently
and shown to fail on a planted disagreement. Wall-clock speed is never asserted."""

import json
import statistics

import numpy as np
import pytest

from tfar import cli, zoo

TINY = {
    "pixelcnn": dict(image_shape=(4, 4, 1), filters=8, num_residual_blocks=1, output_filters=8, kernel_size=3),
    "wavenet": dict(num_stacks=1, layers_per_stack=3, residual_channels=4, dilation_channels=4, skip_channels=4),
}
NUM, LENGTH, REPEATS = 3, 12, 3


@pytest.fixture
def tiny_zoo(monkeypatch):
    """zoo.load gives the tiny configurations at random weights; returns the models it built, by name."""
    built, load = {}, zoo.load

    def tiny_load(name, pretrained=True, **overrides):
        built[name] = load(name, pretrained=False, **TINY[name], **overrides)
        return built[name]

    monkeypatch.setattr(zoo, "load", tiny_load)
    return built


def bench(tmp_path, *extra):
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "pixelcnn", "wavenet", "--num", str(NUM), "--length", str(LENGTH),
                     "--repeats", str(REPEATS), "--out", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else None


def test_bench_reports_medians_warmups_the_ratio_of_the_medians_and_a_true_verdict(tmp_path, tiny_zoo, capsys):
    code, results = bench(tmp_path)
    assert code == 0 and set(results) == {"pixelcnn", "wavenet"}
    for name, result in results.items():
        assert result["repeats"] == REPEATS and result["num_samples"] == NUM
        for method in ("fast", "naive"):
            runs = result[f"{method}_runs"]
            assert len(runs) == REPEATS and all(s > 0 for s in runs), (name, method)
            assert result[f"{method}_seconds"] == statistics.median(runs)  # an odd count: one of the runs
            warmup = result[f"{method}_warmup_seconds"]  # reported apart, not one of the timed runs
            assert isinstance(warmup, float) and warmup > 0
        assert result["speedup"] == round(result["naive_seconds"] / result["fast_seconds"], 2)
        assert result["identical"] is True and result["pretrained"] is True
    assert results["wavenet"]["length"] == LENGTH and results["pixelcnn"]["length"] is None
    printed = capsys.readouterr().out
    assert all(f"{results[n]['speedup']:.1f}x" in printed for n in results)
    for name, model in tiny_zoo.items():  # the verdict "identical", checked on samples drawn here
        condition = None if model.num_classes is None else [i % model.num_classes for i in range(NUM)]
        length = LENGTH if zoo.is_audio(model) else None
        fast, naive = (model.sample(NUM, condition=condition, length=length, seed=1, method=m).numpy()
                       for m in ("fast", "naive"))
        assert fast.shape == (NUM, *(model.event_shape if length is None else (LENGTH,)))
        np.testing.assert_array_equal(fast, naive)
        assert results[name]["identical"] is True


def test_bench_reports_a_planted_disagreement_and_exits_1(tmp_path, tiny_zoo, monkeypatch):
    from tfar.models.base import AutoregressiveModel

    sample = AutoregressiveModel.sample

    def off_by_one_naive(self, *args, method="fast", **kwargs):
        out = sample(self, *args, method=method, **kwargs)
        return (out + 1) % self.num_levels if method == "naive" else out

    monkeypatch.setattr(AutoregressiveModel, "sample", off_by_one_naive)
    code, results = bench(tmp_path)
    assert code == 1
    assert results["pixelcnn"]["identical"] is False and results["wavenet"]["identical"] is False


def test_bench_refuses_bad_arguments(tiny_zoo, capsys):
    assert cli.main(["bench", "no_such_model"]) == 2
    assert "unknown zoo models" in capsys.readouterr().err
    assert cli.main(["bench", "--num", "0"]) == 2
    assert cli.main(["bench", "pixelcnn", "--repeats", "2"]) == 2  # a median needs at least 3 timed runs
    assert "repeats" in capsys.readouterr().err

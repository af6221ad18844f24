import json

from tfar import cli


def test_bench_times_fast_and_naive_and_checks_they_agree(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "pixelcnn", "wavenet", "--num", "1", "--length", "64", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {"pixelcnn", "wavenet"}
    for name, result in results.items():
        assert result["identical"] is True, name
        assert result["fast_seconds"] > 0 and result["naive_seconds"] > 0
        ratio = result["naive_seconds"] / result["fast_seconds"]  # both rounded to milliseconds
        assert abs(result["speedup"] - ratio) < 0.05 * ratio + 0.05
    assert results["wavenet"]["length"] == 64 and results["pixelcnn"]["length"] is None
    assert "pixelcnn" in capsys.readouterr().out


def test_bench_unknown_model_exits_2(capsys):
    assert cli.main(["bench", "no_such_model"]) == 2
    assert "unknown zoo models" in capsys.readouterr().err
    assert cli.main(["bench", "--num", "0"]) == 2

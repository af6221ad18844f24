"""The tfar command line, run in-process through tfar.cli.main (the tfar/cli/ package).

Most tests use a stand-in for tfar.data with 7x7 images so that the models stay
tiny; one test runs the real tfar.data on the embedded Fashion-MNIST sample.
"""

import csv
import json
import math
import os
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfar.data
from tfar import cli, zoo
from tfar.cli.common import parse_overrides
from tfar.training import run as run_lib
from tfar.visualize import auto_scale

SHAPE = (7, 7, 1)
SIZES = {"train": 24, "validation": 8, "test": 12}
TINY = ["--set", "filters=4", "num_residual_blocks=1", "output_filters=8", "kernel_size=3"]


def _examples(split):
    """Deterministic 7x7 images with structure (a vertical gradient) plus noise, and labels."""
    rng = np.random.default_rng({"train": 0, "validation": 2, "test": 1}[split])
    n = SIZES[split]
    base = np.linspace(0, 200, SHAPE[0]).astype(np.int64)[None, :, None, None]
    x = np.clip(base + rng.integers(0, 50, size=[n, *SHAPE]), 0, 255)
    return x, rng.integers(0, 10, size=[n])


SPLITS_READ = []


def stand_in_load(name, split="train", batch_size=32, num_levels=256, with_labels=False, shuffle=None,
                  repeat=False, limit=None, source="auto", seed=0, **unused):
    SPLITS_READ.append(split)
    x, labels = _examples(split)
    x = x * num_levels // 256
    if limit is not None:
        x, labels = x[:limit], labels[:limit]
    ds = tf.data.Dataset.from_tensor_slices((x.astype(np.int32), labels.astype(np.int32)))
    if repeat is True:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    return ds if with_labels else ds.map(lambda images, _: images)


def stand_in_info(name):
    return {"image_shape": SHAPE, "num_classes": 10, "num_levels": 256, "splits": dict(SIZES)}


@pytest.fixture
def stand_in_data(monkeypatch):
    SPLITS_READ.clear()
    monkeypatch.setattr(tfar.data, "load", stand_in_load)
    monkeypatch.setattr(tfar.data, "dataset_info", stand_in_info)


def train_args(out, *extra, epochs=1, samples=2):
    return ["train", "pixelcnn", "--data", "tiny", "--epochs", str(epochs), "--batch-size", "8", "--out", str(out),
            "--val-limit", "8", "--samples", str(samples), "--verbose", "0", *TINY, *extra]


def png_cells(path, rows, cols, height=SHAPE[0], pad=2):
    """Check the grid layout of a PNG and return it as an array."""
    cell = height * auto_scale(height)
    picture = np.asarray(Image.open(path))
    assert picture.shape[:2] == (rows * (cell + pad) + pad, cols * (cell + pad) + pad)
    return picture


def cell(picture, row, col, height=SHAPE[0], pad=2):
    size = height * auto_scale(height)
    top, left = pad + row * (size + pad), pad + col * (size + pad)
    return picture[top:top + size, left:left + size]


class EpochRecorder(keras.callbacks.Callback):
    """Records the epochs a fit runs (and the state when the first one begins)."""

    def __init__(self, fail_at=None):
        super().__init__()
        self.fail_at = fail_at
        self.epochs = []
        self.first_weights = None
        self.first_iterations = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_weights is None:
            self.first_weights = [w.copy() for w in self.model.get_weights()]
            self.first_iterations = int(self.model.optimizer.iterations.numpy())
        if epoch == self.fail_at:
            raise RuntimeError("simulated kill")
        self.epochs.append(epoch)


# ---------------------------------------------------------------- parser
def _commands():
    return sorted(cli.build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize(
    "command",
    [[], ["train"], ["eval"], ["sample"], ["zoo"], ["zoo", "list"], ["zoo", "info"], ["export"], ["bench"],
     ["vocode"]])
def test_help_for_every_command(command, capsys):
    assert cli.main([*command, "--help"]) == 0
    assert "usage: tfar" in capsys.readouterr().out


def test_parser_has_only_implemented_commands():
    assert set(_commands()) == {"bench", "eval", "export", "sample", "train", "vocode", "zoo"}
    for name in _commands():  # every command runs something (no placeholders)
        sub = cli.build_parser()._subparsers._group_actions[0].choices[name]
        assert callable(sub.get_default("func"))


def test_export_errors_exit_2(tmp_path, capsys):
    assert cli.main(["export", "no_such_model", "--out", str(tmp_path / "o")]) == 2
    assert "no_such_model" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["train", "pixelcnn", "--epochs", "0"]) == 2
    assert "expected a positive int, got 0" in capsys.readouterr().err


def test_unknown_model_exits_2_listing_the_zoo(tmp_path, capsys):
    assert cli.main(["train", "no_such_model", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "Unknown model 'no_such_model'" in err and "pixelcnn" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    assert cli.main(["zoo", "info", "no_such_model"]) == 2


def test_zoo_list_and_info(capsys):
    assert cli.main(["zoo"]) == 0
    assert cli.main(["zoo", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("pixelcnn ") and "PixelCNN" in line for line in listed)
    assert cli.main(["zoo", "info", "pixelcnn"]) == 0
    out = capsys.readouterr().out
    record, _ = json.JSONDecoder().raw_decode(out)  # the record, then the model card
    assert record["class"] == "PixelCNN" and "filters" in record["config"]


def test_set_values_are_json_and_bad_overrides_exit_2(tmp_path, stand_in_data, capsys):
    assert parse_overrides(["filters=8", "image_shape=[7,7,1]", "name=abc"]) == {
        "filters": 8, "image_shape": [7, 7, 1], "name": "abc"}
    assert cli.main(train_args(tmp_path / "r", "--set", "no_such_key=1")) == 2
    assert "no_such_key" in capsys.readouterr().err
    assert cli.main(train_args(tmp_path / "r", "--set", "filters")) == 2
    assert "key=value" in capsys.readouterr().err


def test_audio_models_and_entries_are_told_apart():
    assert zoo.is_audio(SimpleNamespace(event_shape=(None,)))
    assert not zoo.is_audio(SimpleNamespace(event_shape=(28, 28, 1)))
    assert zoo.is_audio(zoo.info("wavenet")) and not zoo.is_audio(zoo.info("pixelcnn"))


def test_missing_run_folder_exits_2(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path)]) == 2
    assert "not a tfar run folder" in capsys.readouterr().err
    assert cli.main(["sample", str(tmp_path / "nothing")]) == 2


# --------------------------------------------------------- end to end
def test_train_eval_sample_end_to_end(tmp_path, stand_in_data, capsys):
    run = tmp_path / "run"
    assert cli.main(train_args(run)) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == "pixelcnn" and info["status"] == "finished" and info["epochs"] == 1
    assert info["model_config"]["image_shape"] == list(SHAPE) and info["model_config"]["filters"] == 4
    for name in ("checkpoints/best.weights.h5", "checkpoints/last.weights.h5", "history.csv",
                 "samples/epoch_001.png", "backup/training_metadata.json"):
        assert (run / name).is_file(), name
    assert "TensorBoard" in capsys.readouterr().out

    assert cli.main(["eval", str(run), "--batch-size", "5", "--verbose", "0"]) == 0
    record = json.loads((run / "eval.json").read_text())
    assert record["num_examples"] == SIZES["test"] and record["split"] == "test"
    assert math.isfinite(record["bits_per_dim"]) and 0.5 < record["bits_per_dim"] < 10
    assert f"{record['bits_per_dim']:.4f}" in capsys.readouterr().out
    # the number is the exact mean over every test image (batches of 5 do not divide 12)
    model, _ = run_lib.load_run_model(str(run))
    x, _ = _examples("test")
    direct = float(np.mean(model.bits_per_dim(x.astype(np.int32)).numpy()))
    assert record["bits_per_dim"] == pytest.approx(direct, rel=1e-5)

    out = tmp_path / "grid.png"
    assert cli.main(["sample", str(run), "--num", "4", "--out", str(out), "--seed", "3"]) == 0
    picture = png_cells(out, rows=2, cols=2)
    from tfar.visualize import image_grid

    expected = image_grid(np.asarray(model.sample(4, seed=3)), 256, ncols=2)[..., 0]
    np.testing.assert_array_equal(picture, expected)

    completion = tmp_path / "complete.png"
    assert cli.main(["sample", str(run), "--num", "3", "--complete", "--out", str(completion)]) == 0
    picture = png_cells(completion, rows=2, cols=4)  # 3 pairs (original | completion), 2 pairs per row
    top = (SHAPE[0] // 2) * auto_scale(SHAPE[0])
    for pair in range(3):
        row, col = divmod(2 * pair, 4)
        original, completed = cell(picture, row, col), cell(picture, row, col + 1)
        np.testing.assert_array_equal(original[:top], completed[:top])  # the kept top half

    assert cli.main(["sample", str(run), "--label", "2"]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_conditional_run_samples_one_row_per_class(tmp_path, stand_in_data):
    run = tmp_path / "cond"
    assert cli.main(train_args(run, "--conditional", samples=0)) == 0
    assert not (run / "samples").exists()
    assert json.loads((run / "run.json").read_text())["model_config"]["num_classes"] == 10
    assert cli.main(["eval", str(run), "--verbose", "0", "--limit", "8"]) == 0
    assert json.loads((run / "eval.json").read_text())["num_examples"] == 8
    out = tmp_path / "classes.png"
    assert cli.main(["sample", str(run), "--num", "10", "--out", str(out)]) == 0
    png_cells(out, rows=10, cols=1)
    assert cli.main(["sample", str(run), "--num", "4", "--label", "3", "--out", str(out)]) == 0
    png_cells(out, rows=2, cols=2)
    assert cli.main(["sample", str(run), "--label", "10"]) == 2


def test_resume_after_kill_and_extend(tmp_path, stand_in_data, capsys):
    run = tmp_path / "resume"
    steps = math.ceil(SIZES["train"] / 8)
    killed = EpochRecorder(fail_at=1)
    with pytest.raises(RuntimeError, match="simulated kill"):
        cli.main(train_args(run, epochs=3), extra_callbacks=[killed])
    assert killed.epochs == [0]
    saved, _ = run_lib.load_run_model(str(run), which="last")

    resumed = EpochRecorder()
    assert cli.main(train_args(run, epochs=3), extra_callbacks=[resumed]) == 0
    assert "resuming after epoch 1 of 3" in capsys.readouterr().out
    assert resumed.epochs == [1, 2]  # only the missing epochs
    assert resumed.first_iterations == steps  # optimizer state restored
    for restored, expected in zip(resumed.first_weights, saved.get_weights()):
        np.testing.assert_array_equal(restored, expected)
    history = (run / "history.csv").read_text().strip().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1", "2"]
    assert sorted(os.listdir(run / "samples")) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]

    again = EpochRecorder()  # the same command once finished: nothing to do
    assert cli.main(train_args(run, epochs=3), extra_callbacks=[again]) == 0
    assert again.epochs == [] and "nothing to do" in capsys.readouterr().out
    more = EpochRecorder()  # a larger --epochs continues
    assert cli.main(train_args(run, epochs=4), extra_callbacks=[more]) == 0
    assert more.epochs == [3]


def test_training_chooses_on_validation_and_records_what_it_measured(tmp_path, stand_in_data):
    run = tmp_path / "measured"
    assert cli.main(train_args(run, "--ema", "0.9", "--lr-schedule", "cosine", epochs=2, samples=0)) == 0
    assert sorted(set(SPLITS_READ)) == ["train", "validation"]  # training never reads the test split
    stats = json.loads((run / "train_stats.json").read_text())
    steps = SIZES["train"] // 8
    assert stats["epochs_completed"] == 2 and stats["steps"] == 2 * steps and stats["examples"] == 2 * steps * 8
    assert stats["wall_seconds"] > 0 and stats["images_per_second_median"] > 0 and stats["batch_size"] == 8
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["steps"]) for r in rows] == [steps, 2 * steps]
    assert [int(r["examples"]) for r in rows] == [8 * steps, 16 * steps]
    val = [float(r["val_loss"]) for r in rows]
    assert stats["best_epoch"] == 1 + int(np.argmin(val)) and stats["best"]["val_loss"] == pytest.approx(min(val))
    assert float(rows[1]["wall_seconds"]) >= float(rows[0]["wall_seconds"]) > 0


class LearningRateRecorder(keras.callbacks.Callback):
    """The optimizer step and learning rate at the start of every training batch."""

    def __init__(self):
        super().__init__()
        self.rates = {}

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.rates[int(optimizer.iterations.numpy())] = float(optimizer.learning_rate)


def test_a_constant_rate_run_is_annealed_when_resumed_with_cosine(tmp_path, stand_in_data, capsys):
    run, steps = tmp_path / "annealed", SIZES["train"] // 8
    assert cli.main(train_args(run, samples=0)) == 0  # one epoch at the constant rate
    recorder = LearningRateRecorder()
    assert cli.main(train_args(run, "--lr-schedule", "cosine", epochs=3, samples=0),
                    extra_callbacks=[recorder]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["lr_schedule"] == "cosine" and info["lr_decay_start_step"] == steps
    total = 3 * steps
    expected = {t: 1e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (t - steps) / (total - steps))))
                for t in range(steps, total)}
    assert sorted(recorder.rates) == sorted(expected)  # the resumed run starts at the steps already taken
    for t, rate in recorder.rates.items():
        assert rate == pytest.approx(expected[t], rel=1e-5)
    assert recorder.rates[steps] == pytest.approx(1e-3)  # no jump where the decay begins

    again = LearningRateRecorder()  # once decaying, a rerun keeps the decay's start
    assert cli.main(train_args(run, "--lr-schedule", "cosine", epochs=4, samples=0), extra_callbacks=[again]) == 0
    assert json.loads((run / "run.json").read_text())["lr_decay_start_step"] == steps
    assert again.rates[total] == pytest.approx(1e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 2 / 3))), rel=1e-5)

    capsys.readouterr()
    assert cli.main(train_args(run, epochs=5, samples=0)) == 2  # back to constant is refused, with the way out
    err = capsys.readouterr().err
    assert f"cosine since step {steps}" in err and "--lr-schedule cosine" in err


def test_a_resume_whose_optimizer_state_does_not_load_is_stopped(tmp_path, stand_in_data):
    run = tmp_path / "r"
    assert cli.main(train_args(run, samples=0)) == 0
    # --ema adds the averages to the optimizer's variables: Keras skips the saved state, with a warning only
    with pytest.raises(RuntimeError, match=rf"step count at 0, but the run has taken {SIZES['train'] // 8} steps"):
        cli.main(train_args(run, "--ema", "0.9", epochs=2, samples=0))


def test_annealing_needs_steps_left_to_decay_over(tmp_path, stand_in_data, capsys):
    run = tmp_path / "r"
    assert cli.main(train_args(run, epochs=2, samples=0)) == 0
    capsys.readouterr()
    assert cli.main(train_args(run, "--lr-schedule", "cosine", "--steps-per-epoch", "1", epochs=3, samples=0)) == 2
    err = capsys.readouterr().err
    assert f"taken {2 * (SIZES['train'] // 8)} steps" in err and "= 3 leaves none" in err and "--epochs" in err


def test_the_test_split_is_refused_for_validation(tmp_path, stand_in_data, capsys):
    assert cli.main(train_args(tmp_path / "r", "--val-split", "test")) == 2
    assert "test split" in capsys.readouterr().err and not SPLITS_READ
    assert not (tmp_path / "r").exists()


def test_a_different_run_in_the_same_folder_is_refused(tmp_path, stand_in_data, capsys):
    run = tmp_path / "r"
    assert cli.main(train_args(run, samples=0)) == 0
    assert cli.main(train_args(run, "--set", "filters=8", samples=0)) == 2
    assert "already holds a different run" in capsys.readouterr().err


# ------------------------------------------------------- the real data
def test_real_fashion_mnist_sample(tmp_path):
    """The CLI on tfar.data's embedded Fashion-MNIST sample (28x28, tiny model)."""
    run = tmp_path / "fm"
    assert cli.main(["train", "pixelcnn", "--source", "embedded", "--limit", "32", "--val-limit", "16",
                     "--batch-size", "16", "--epochs", "1", "--samples", "0", "--verbose", "0", "--out", str(run),
                     *TINY]) == 0
    assert json.loads((run / "run.json").read_text())["model_config"]["image_shape"] == [28, 28, 1]
    assert cli.main(["eval", str(run), "--limit", "64", "--verbose", "0"]) == 0
    record = json.loads((run / "eval.json").read_text())
    assert record["num_examples"] == 64 and record["source"] == "embedded"
    assert math.isfinite(record["bits_per_dim"]) and 1 < record["bits_per_dim"] < 9
    out = tmp_path / "fm.png"
    assert cli.main(["sample", str(run), "--num", "2", "--out", str(out)]) == 0
    png_cells(out, rows=1, cols=2, height=28)


def test_zoo_card_is_written_from_the_run_files(tmp_path):
    run, zoo_dir = tmp_path / "fm", tmp_path / "zoo"
    assert cli.main(["train", "pixelcnn", "--source", "embedded", "--limit", "32", "--val-limit", "16",
                     "--batch-size", "16", "--epochs", "2", "--samples", "0", "--verbose", "0", "--out", str(run),
                     "--conditional", "--ema", "0.9", *TINY]) == 0
    assert cli.main(["zoo", "card", str(run), "--name", "tiny", "--zoo-dir", str(zoo_dir)]) == 2  # no eval.json yet
    assert cli.main(["eval", str(run), "--limit", "40", "--verbose", "0"]) == 0
    assert cli.main(["zoo", "card", str(run), "--name", "tiny", "--zoo-dir", str(zoo_dir)]) == 0
    record = json.loads((zoo_dir / "tiny" / "config.json").read_text())
    stats = json.loads((run / "train_stats.json").read_text())
    evaluation = json.loads((run / "eval.json").read_text())
    m = record["metrics"]
    assert m["test_bits_per_dim"] == round(evaluation["bits_per_dim"], 4) and m["test_examples"] == 40
    assert (m["train_steps"], m["train_examples"], m["train_wall_seconds"], m["best_epoch"]) == (
        stats["steps"], stats["examples"], stats["wall_seconds"], stats["best_epoch"])
    assert m["validation_bits_per_dim"] == round(stats["best"]["val_bits_per_dim"], 4)
    assert record["config"] == json.loads((run / "run.json").read_text())["model_config"]
    # the shipped weights are the best checkpoint, and the embedded figure is theirs
    model = tfar.zoo.load("pixelcnn", pretrained=False, **record["config"])
    model.load_weights(str(zoo_dir / "tiny" / record["weights"]))
    best, _ = run_lib.load_run_model(str(run), "best")
    assert m["params"] == model.count_params()
    for shipped, chosen in zip(model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(shipped, chosen)
    x, y = tfar.data.images.embedded_arrays("test")
    bits = float(np.mean(model.bits_per_dim(x.astype(np.int32), y.astype(np.int32))))
    assert m["embedded_test"] == {"bits_per_dim": pytest.approx(bits, abs=1e-3), "examples": 500}
    card = (zoo_dir / "tiny" / "MODEL_CARD.md").read_text()
    assert str(m["test_bits_per_dim"]) in card and "learning_curve.png" in card
    for picture in ("learning_curve.png", "samples.png"):
        assert Image.open(zoo_dir / "tiny" / picture).size[0] > 100


# ------------------------------------------------------------------ demo
def test_demo_runs_end_to_end_with_a_time_cap(tmp_path, capsys):
    """python -m tfar.demo on the embedded sample; a zero time cap stops training after one step.

    Then the zoo's panels: demo.png holds the quick model's grid, the pretrained zoo entry's
    samples (checked against a fresh draw with the same seed) and its completions of test images.
    """
    import numpy as np
    from PIL import Image

    from tfar import demo, visualize, zoo

    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--source", "embedded", "--epochs", "2", "--steps-per-epoch", "3",
                      "--max-train-seconds", "0", "--zoo-per-class", "1", "--completions", "2"]) == 0
    text = capsys.readouterr().out
    assert "stopped early after 1 steps" in text
    record = json.loads((out / "eval.json").read_text())
    assert record["num_examples"] == 500  # the whole embedded test split
    assert f"test bits/dim:  {record['bits_per_dim']:.4f}" in text
    assert str(out / "samples.png") in text and "tensorboard --logdir" in text
    png_cells(out / "samples.png", rows=4, cols=4, height=28)
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 2  # header + the one (cut short) epoch

    shown = json.loads((out / "demo.json").read_text())
    assert shown["path"] == str(out / "demo.png") and str(out / "demo.png") in text
    card = zoo.info(demo.ZOO_ENTRY)["metrics"]["test_bits_per_dim"]
    assert shown["zoo_bits_per_dim"] == card and shown["quick_bits_per_dim"] == record["bits_per_dim"]
    assert f"{card:.4f} zoo {demo.ZOO_ENTRY}" in text
    picture = np.asarray(Image.open(out / "demo.png"))
    (qt, ql, qh, qw), (zt, zl, zh, zw), (ct, cl, ch, cw) = shown["boxes"]
    quick_grid = np.asarray(Image.open(out / "samples.png").convert("L"))  # panel 1: the quick model's grid
    np.testing.assert_array_equal(picture[qt:qt + qh, ql:ql + qw, 0], quick_grid)
    model = zoo.load(demo.ZOO_ENTRY)  # panel 2: the zoo entry's samples, one per class, drawn again
    labels = np.arange(model.num_classes, dtype=np.int32)
    expected = visualize.image_grid(np.asarray(model.sample(len(labels), condition=labels, seed=shown["seed"])),
                                    model.num_levels, ncols=1)
    np.testing.assert_array_equal(picture[zt:zt + zh, zl:zl + zw, 0], expected[..., 0])
    # panel 3: two (test image | completion) pairs, the completion keeping the top half exactly
    assert (ch, cw) == visualize.image_grid(np.zeros([4, 28, 28, 1], np.int32), 256, ncols=2).shape[:2]
    third, pad = picture[ct:ct + ch, cl:cl + cw, 0], 2
    cell = 28 * visualize.auto_scale(28)
    for row in range(2):
        top = pad + row * (cell + pad)
        original = third[top:top + cell, pad:pad + cell]
        completion = third[top:top + cell, 2 * pad + cell:2 * pad + 2 * cell]
        np.testing.assert_array_equal(original[: cell // 2], completion[: cell // 2])
        assert not np.array_equal(original, completion)
    assert (picture[:qt] < 128).any()  # the captions above the panels

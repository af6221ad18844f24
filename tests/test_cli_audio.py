"""The tfar command line with audio models (WaveNet), run in-process through tfar.cli.main.

A tiny fake corpus of WAV tones (4 kHz, so nothing silently assumes the zoo's 8 kHz)
is written per module; one test trains on a few files of the real speech corpus.
"""

import csv
import json
import math
import os
import wave

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar import cli
from tfar.cli.common import data_label
from tfar.data.audio import codes_to_pcm16, file_split, load_wav, mu_law_encode, trim_silence, write_wav
from tfar.training import run as run_lib
from tfar.training.callbacks import TimeBudget

RATE = 4000
FILE_SAMPLES = 1200
TINY = ["--set", "num_stacks=1", "layers_per_stack=3", "residual_channels=4", "dilation_channels=4",
        "skip_channels=8"]
ALLISON = "/usr/share/asterisk/sounds/en_US_f_Allison"


def _names():
    """File names the stable split puts in each set: two test, two validation and six training files."""
    wanted = {"test": 2, "validation": 2, "train": 6}
    names = {split: [] for split in wanted}
    for i in range(1000):
        name = f"tone_{i:03d}.wav"
        split = file_split(name)
        if len(names[split]) < wanted[split]:
            names[split].append(name)
        if all(len(names[s]) == n for s, n in wanted.items()):
            return names
    raise AssertionError("could not find names for every split")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Folder of noisy tones (quiet first samples, trimmed by the pipeline); returns (folder, test file names)."""
    folder = tmp_path_factory.mktemp("corpus")
    names = _names()
    held = names["test"]
    rng = np.random.default_rng(0)
    t = np.arange(FILE_SAMPLES) / RATE
    for k, name in enumerate(held + names["validation"] + names["train"]):
        w = 0.5 * np.sin(2 * np.pi * (200 + 40 * k) * t) + 0.05 * rng.standard_normal(t.size)
        w[:10] = 0.0  # leading silence, dropped by trimming
        tf.io.write_file(str(folder / name), tf.audio.encode_wav(w[:, None].astype(np.float32), RATE))
    return folder, held


def train_args(data, out, *extra, epochs=1):
    return ["train", "wavenet", "--data", str(data), "--out", str(out), "--epochs", str(epochs),
            "--steps-per-epoch", "2", "--batch-size", "4", "--segment-length", "128", "--sample-seconds", "0.05",
            "--verbose", "0", *TINY, *extra]


@pytest.fixture(scope="module")
def trained_run(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    assert cli.main(train_args(corpus[0], run)) == 0
    return run


def read_wav(path):
    """(int16 samples, rate) of a mono 16-bit WAV, checking its format."""
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getcomptype()) == (1, 2, "NONE")
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
        return pcm, f.getframerate()


def pcm_codes(pcm):
    return mu_law_encode(pcm.astype(np.float32) / 32767.0).numpy()


class Killer(keras.callbacks.Callback):
    """Records the epochs that run and raises at ``fail_at``."""

    def __init__(self, fail_at=None):
        super().__init__()
        self.fail_at, self.epochs = fail_at, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.fail_at:
            raise RuntimeError("simulated kill")
        self.epochs.append(epoch)


# ------------------------------------------------------------------ help
def test_help_lists_the_audio_options(capsys):
    for command, options in (("train", ["--segment-length", "--time-budget", "--sample-rate"]),
                             ("sample", ["--seconds", "--prompt", "--prompt-seconds"]),
                             ("eval", ["nats", "--out"])):
        assert cli.main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert all(option in text for option in options), command


def test_default_run_folder_names():
    assert data_label("/sounds/digits/1*.wav") == "digits" and data_label("corpus/") == "corpus"
    assert data_label("*.wav") == "audio" and data_label("fashion_mnist") == "fashion_mnist"


def test_pcm_round_trip_and_wav_writer(tmp_path):
    codes = np.arange(256)
    np.testing.assert_array_equal(pcm_codes(codes_to_pcm16(codes)), codes)  # int16 keeps every code
    y = 2 * codes / 255 - 1  # mu-law expansion, mu = 255, then 16-bit quantization
    np.testing.assert_array_equal(codes_to_pcm16(codes), np.round(np.sign(y) * (256 ** abs(y) - 1) / 255 * 32767))
    assert codes_to_pcm16([0, 255]).tolist() == [-32767, 32767]
    with pytest.raises(ValueError, match="int16"):
        write_wav(tmp_path / "x.wav", np.zeros(4, np.float32), RATE)


# --------------------------------------------------------- end to end
def test_train_writes_the_run_folder(trained_run):
    info = json.loads((trained_run / "run.json").read_text())
    assert info["model"] == "wavenet" and info["status"] == "finished" and info["steps_per_epoch"] == 2
    assert info["data"]["modality"] == "audio" and info["data"]["sample_rate"] == RATE
    assert info["model_config"]["layers_per_stack"] == 3
    for name in ("checkpoints/best.weights.h5", "checkpoints/last.weights.h5", "backup/training_metadata.json"):
        assert (trained_run / name).is_file(), name
    with open(trained_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and math.isfinite(float(rows[0]["val_loss"]))  # validated on the validation files
    assert info["data"]["split_files"] == {"train": 6, "validation": 2, "test": 2}
    pcm, rate = read_wav(trained_run / "samples" / "epoch_001.wav")
    assert rate == RATE and len(pcm) == round(0.05 * RATE)
    events = [str(p) for p in (trained_run / "logs" / "samples").iterdir()]
    tags = {v.tag for path in events for e in tf.compat.v1.train.summary_iterator(path) for v in e.summary.value}
    assert "samples" in tags  # the clip as a TensorBoard audio summary


def test_eval_is_the_exact_held_out_figure(corpus, trained_run, capsys):
    folder, held = corpus
    assert cli.main(["eval", str(trained_run), "--verbose", "0"]) == 0
    record = json.loads((trained_run / "eval.json").read_text())
    assert sorted(record["files"]) == sorted(held) and record["sample_rate"] == RATE
    assert record["uniform_baseline_nats"] == pytest.approx(math.log(256))
    # direct: softmax of the logits over each whole (trimmed) held-out file
    model, _ = run_lib.load_run_model(str(trained_run))
    nats, count = 0.0, 0
    for name in held:
        samples = trim_silence(load_wav(str(folder / name))[0], 0.01)
        codes = mu_law_encode(samples).numpy()
        logits = model(codes[None]).numpy()[0].astype(np.float64)
        top = logits.max(-1, keepdims=True)
        log_probs = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
        nats -= log_probs[np.arange(len(codes)), codes].sum()
        count += len(codes)
    assert record["num_samples"] == count == 2 * (FILE_SAMPLES - 10)
    assert record["nats_per_sample"] == pytest.approx(nats / count, rel=1e-5)
    assert record["bits_per_sample"] == pytest.approx(nats / count / math.log(2), rel=1e-5)
    out = capsys.readouterr().out
    assert f"{record['nats_per_sample']:.4f} nats/sample" in out and "ln(256) = 5.5452" in out


def test_sample_writes_a_playable_wav(trained_run, tmp_path, capsys):
    out = tmp_path / "speech.wav"
    assert cli.main(["sample", str(trained_run), "--seconds", "0.1", "--seed", "3", "--out", str(out)]) == 0
    pcm, rate = read_wav(out)
    assert rate == RATE and len(pcm) == round(0.1 * RATE) and pcm.dtype == np.int16
    model, _ = run_lib.load_run_model(str(trained_run))
    expected = codes_to_pcm16(np.asarray(model.sample(1, length=len(pcm), seed=3))[0])
    np.testing.assert_array_equal(pcm, expected)
    assert "took" in capsys.readouterr().out
    assert cli.main(["sample", str(trained_run), "--seconds", "0.02", "--num", "2"]) == 0  # default RUN/sample_K.wav
    assert read_wav(trained_run / "sample_2.wav")[1] == RATE


def test_prompt_is_kept_exactly(corpus, trained_run, tmp_path):
    folder, held = corpus
    out = tmp_path / "continued.wav"
    prompt = folder / held[0]
    assert cli.main(["sample", str(trained_run), "--seconds", "0.2", "--prompt", str(prompt), "--prompt-seconds",
                     "0.05", "--out", str(out)]) == 0
    pcm, rate = read_wav(out)
    assert rate == RATE and len(pcm) == round(0.2 * RATE)
    kept = round(0.05 * RATE)
    expected = mu_law_encode(trim_silence(load_wav(str(prompt))[0], 0.01)[:kept]).numpy()
    np.testing.assert_array_equal(pcm_codes(pcm[:kept]), expected)
    assert np.any(pcm[kept:] != 0)  # the continuation is generated, not padding


def test_resume_after_kill_and_time_budget(corpus, tmp_path, capsys):
    run = tmp_path / "resume"
    killed = Killer(fail_at=1)
    with pytest.raises(RuntimeError, match="simulated kill"):
        cli.main(train_args(corpus[0], run, "--samples", "0", epochs=2), extra_callbacks=[killed])
    saved, _ = run_lib.load_run_model(str(run), which="last")
    resumed = Killer()
    weights = {}

    class Snapshot(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            weights["begin"] = [w.copy() for w in self.model.get_weights()]
            weights["iterations"] = int(self.model.optimizer.iterations.numpy())

    assert cli.main(train_args(corpus[0], run, "--samples", "0", epochs=2),
                    extra_callbacks=[resumed, Snapshot()]) == 0
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out
    assert killed.epochs == [0] and resumed.epochs == [1]
    assert weights["iterations"] == 2  # optimizer state restored with the weights
    for restored, expected in zip(weights["begin"], saved.get_weights()):
        np.testing.assert_array_equal(restored, expected)

    capped = tmp_path / "capped"  # a zero budget stops after the first step; the cut epoch is saved
    assert cli.main(train_args(corpus[0], capped, "--samples", "0", "--time-budget", "0", epochs=3)) == 0
    assert "time budget" in json.loads((capped / "run.json").read_text())["status"]
    assert "reached after 1 steps" in capsys.readouterr().out
    assert (capped / "checkpoints" / "last.weights.h5").is_file()
    with pytest.raises(ValueError, match="seconds"):
        TimeBudget(-1)


def test_errors_exit_2_with_clear_messages(corpus, trained_run, tmp_path, capsys):
    folder, held = corpus
    cases = [
        (["sample", str(trained_run), "--seconds", "0"], "positive number"),
        (["sample", str(trained_run), "--seconds", "-1"], "positive number"),
        (["sample", str(trained_run), "--prompt", str(tmp_path / "missing.wav")], "no such file"),
        (["sample", str(trained_run), "--seconds", "0.05", "--prompt", str(folder / held[0]), "--prompt-seconds",
          "0.2"], "fills the whole output"),
        (["sample", str(trained_run), "--prompt-seconds", "0.1"], "needs --prompt"),
        (["sample", str(trained_run), "--label", "1"], "image models"),
        (["train", "wavenet", "--out", str(tmp_path / "r")], "pass --data"),
        (["train", "wavenet", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")], "no WAV files"),
        (["eval", "wavenet"], "--data"),
        (train_args(folder, tmp_path / "r", "--limit", "3"), "--limit is for image datasets"),
    ]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file")
    cases.append((["sample", str(trained_run), "--prompt", str(bad)], "cannot decode"))
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------ zoo + real data
def test_sample_from_the_zoo_entry(tmp_path):
    out = tmp_path / "zoo.wav"
    assert cli.main(["sample", "wavenet", "--seconds", "0.02", "--seed", "0", "--out", str(out)]) == 0
    pcm, rate = read_wav(out)
    assert rate == 8000 and len(pcm) == 160


def test_real_speech_files_through_a_glob(tmp_path):
    """Train, eval and continue a test file of the real corpus (11 files: 2 test, 1 validation)."""
    pattern = os.path.join(ALLISON, "digits", "1*.wav")
    held = [os.path.join(ALLISON, "digits", n) for n in ("16.wav", "19.wav")]
    assert [file_split(path) for path in held] == ["test", "test"]
    assert file_split(os.path.join(ALLISON, "digits", "11.wav")) == "validation"
    run = tmp_path / "allison"
    assert cli.main(train_args(pattern, run)) == 0
    assert json.loads((run / "run.json").read_text())["data"]["sample_rate"] == 8000
    assert cli.main(["eval", str(run), "--verbose", "0"]) == 0
    record = json.loads((run / "eval.json").read_text())
    assert sorted(record["files"]) == ["16.wav", "19.wav"]
    assert record["num_samples"] > 8000 and 3.0 < record["nats_per_sample"] < 6.0
    out = tmp_path / "continued.wav"
    assert cli.main(["sample", str(run), "--seconds", "0.1", "--prompt", held[0], "--out", str(out)]) == 0
    pcm, rate = read_wav(out)
    expected = mu_law_encode(trim_silence(load_wav(held[0])[0], 0.01)[:400]).numpy()
    assert rate == 8000 and len(pcm) == 800
    np.testing.assert_array_equal(pcm_codes(pcm[:400]), expected)

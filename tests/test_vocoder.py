"""The WaveNet vocoder: mel alignment, causality in samples and frames, fast == naive, `tfar vocode`, bad input.

Tiny models (a few hundred parameters) and one short real test file keep this under a minute.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfar import zoo
from tfar.data import audio

SPEECH = "/usr/share/asterisk/sounds/en_US_f_Allison"
TEST_FILE = os.path.join(SPEECH, "vm-and.wav")  # the shortest file of the test split (0.68 s)
TINY = dict(num_stacks=1, layers_per_stack=3, residual_channels=4, dilation_channels=4, skip_channels=8,
            local_condition_channels=4)
TINY_SET = [f"{k}={v}" for k, v in TINY.items()]
SMALL_MEL = dict(sample_rate=8000, frame_length=8, hop_length=4, num_mels=6, fmin=0.0, fmax=4000.0)


@pytest.fixture(scope="module")
def tiny():
    return zoo.load("wavenet_vocoder", pretrained=False, **TINY)


@pytest.fixture(scope="module")
def small_hop():
    """hop 4 (upsampling [2, 2]) so that a few samples span several frames."""
    return zoo.load("wavenet_vocoder", pretrained=False, features=SMALL_MEL, upsample_factors=[2, 2], **TINY)


# ------------------------------------------------------------------ front end
def test_entry_carries_its_front_end_and_lists():
    record = zoo.info("wavenet_vocoder")
    assert "wavenet_vocoder" in zoo.list_models()
    assert set(record["features"]) == set(audio.MEL_KEYS)
    f = record["features"]
    assert f["num_mels"] <= 80 and f["hop_length"] / f["sample_rate"] <= 0.0125  # Tacotron 2-like
    assert record["splits"] == zoo.info("wavenet")["splits"]  # the same files as the wavenet entry


def test_frame_j_is_centred_on_its_hop_block():
    """Frame j sees exactly samples [j*hop - p, j*hop - p + n), p = (n - hop) // 2; T // hop frames."""
    n, hop = 512, 100
    p = audio.mel_padding(n, hop)
    rng = np.random.default_rng(0)
    wave = rng.uniform(-0.5, 0.5, 2050).astype(np.float32)
    base = audio.log_mel_spectrogram(wave).numpy()
    assert base.shape == (20, 80) and base.dtype == np.float32
    j = 10
    first, last = j * hop - p, j * hop - p + n - 1
    # the periodic Hann window's first tap is 0, so sample ``first`` itself has no weight
    for t, inside in ((first - 1, False), (first, False), (first + 1, True), (last, True), (last + 1, False)):
        moved = wave.copy()
        moved[t] += 0.3
        changed = not np.array_equal(audio.log_mel_spectrogram(moved).numpy()[j], base[j])
        assert changed == inside, (t, inside)
    # a click inside block j is loudest in frame j (the window's centre)
    for j in (0, 3, 7):
        click = np.zeros(1000, np.float32)
        click[j * hop + hop // 2] = 0.9
        assert np.argmax(audio.log_mel_spectrogram(click).numpy().sum(axis=1)) == j


def test_dataset_pairs_codes_with_the_frames_of_the_whole_file():
    mel = audio.DEFAULT_MEL
    ds = audio.audio_mel_dataset(TEST_FILE, 800, 3, mel=mel, split="all", repeat=False, shuffle=False)
    codes, frames = next(iter(ds))
    assert codes.shape == (1, 800) and frames.shape == (1, 8, 80)
    wave = audio.trim_silence(audio.load_wav(TEST_FILE)[0], 0.01)
    wave = wave[: len(wave) // 100 * 100]
    whole = audio.log_mel_spectrogram(wave).numpy()
    starts = [s for s in range(len(whole) - 7) if np.allclose(whole[s : s + 8], frames[0], atol=1e-5)]
    assert len(starts) == 1
    s = starts[0]
    np.testing.assert_array_equal(codes[0], audio.mu_law_encode(wave[s * 100 : s * 100 + 800]))


# ------------------------------------------------------------------ the model
def test_causal_in_samples_and_frames(small_hop):
    """d output[t] / d x[i] = 0 for i >= t; d output[t] / d frame[j] = 0 for j > floor(t / hop) only."""
    model, hop, length = small_hop, 4, 16
    rng = np.random.default_rng(1)
    # a batch of random inputs: a ReLU dead at one of them cannot hide a dependency
    x = tf.constant(rng.integers(0, 256, (4, length)), tf.int32)
    frames = tf.constant(rng.normal(size=(4, length // hop, 6)), tf.float32)
    for t in (0, 5, 6, 15):
        with tf.GradientTape(persistent=True) as tape:
            h = model.embed_input(x)
            tape.watch([h, frames])
            out = model.network(h, {"labels": None, "features": frames})[:, t]
            picked = tf.reduce_sum(out * tf.random.stateless_normal(out.shape, [t, 0]))
        dx = tf.reduce_max(tf.abs(tape.gradient(picked, h)), axis=[0, 2]).numpy()
        df = tf.reduce_max(tf.abs(tape.gradient(picked, frames)), axis=[0, 2]).numpy()
        assert np.all(dx[t:] == 0) and (t == 0 or dx[t - 1] > 0), (t, dx)
        assert np.all(df[t // hop + 1 :] == 0) and df[t // hop] > 0, (t, df)
    assert model.look_ahead == hop - 1


def test_fast_equals_naive_with_features(tiny):
    mel = tiny.mel_spectrogram(audio.load_wav(TEST_FILE)[0][:1200])
    batch = np.stack([mel[:2], mel[3:5]])
    fast = tiny.vocode(batch, seed=7)
    naive = tiny.vocode(batch, seed=7, method="naive")
    assert fast.shape == (2, 200) and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, naive)
    assert np.abs(fast).max() <= 1.0
    assert not np.array_equal(tiny.vocode(batch, seed=8), fast)


def test_evaluation_scores_each_file_given_its_own_mel(small_hop):
    """tfar eval / the card's test figure: nats per sample of p(codes | mel of the whole file)."""
    from tfar.evaluation import evaluate_audio

    wave = audio.load_wav(TEST_FILE)[0]
    waves = [wave[:402], wave[1000:1120]]  # 402: the trailing partial hop has no frame and is not scored
    nats, count = evaluate_audio(small_hop, waves, verbose=0)
    assert count == 400 + 120
    expected = 0.0
    for w in (wave[:400], wave[1000:1120]):
        codes = audio.mu_law_encode(w, small_hop.num_levels)[None]
        expected -= float(small_hop.log_prob(codes, features=small_hop.mel_spectrogram(w)[None])[0])
    assert nats == pytest.approx(expected / count, rel=1e-5)


@pytest.mark.parametrize("mel, error", [
    (np.zeros([5]), audio.MelShapeError),
    (np.zeros([5, 40]), audio.MelBandsError),
    (np.zeros([80, 5]), audio.MelBandsError),
    (np.zeros([0, 80]), audio.MelShapeError),
    (np.full([5, 80], np.nan), audio.NonFiniteInputError),
])
def test_bad_mel_gets_a_named_error(tiny, mel, error):
    with pytest.raises(error):
        tiny.vocode(mel)


def test_bad_wave_gets_a_named_error(tiny):
    with pytest.raises(audio.NonFiniteInputError):
        tiny.mel_spectrogram(np.full(400, np.nan))
    with pytest.raises(audio.EmptyAudioError):
        tiny.mel_spectrogram(np.zeros(10))
    with pytest.raises(audio.SampleRateError):
        tiny.mel_spectrogram(np.zeros(800), sample_rate=16000)


# ------------------------------------------------------------------ the CLI
def _vocode(*argv):
    from tfar.cli import main

    return main(["vocode", "wavenet_vocoder", "--untrained", "--set", *TINY_SET, *argv])


def test_tfar_vocode_writes_wavs_of_the_right_length_and_rate(tmp_path):
    wave, rate = audio.load_wav(TEST_FILE)
    assert rate == 8000
    at_16k = str(tmp_path / "and_16k.wav")
    audio.write_wav(at_16k, np.round(audio.resample(wave, 8000, 16000) * 32767).astype(np.int16), 16000)
    out = tmp_path / "out"
    assert _vocode("--wav", TEST_FILE, at_16k, "--out", str(out) + os.sep, "--seed", "3") == 0
    for name in ("vm-and.wav", "and_16k.wav"):
        got, got_rate = audio.load_wav(str(out / name))
        assert got_rate == 8000 and len(got) == len(wave) // 100 * 100, (name, len(got))


def test_tfar_vocode_refuses_bad_files(tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    stereo = str(tmp_path / "stereo.wav")
    tf.io.write_file(stereo, tf.audio.encode_wav(tf.zeros([800, 2]), 8000))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full([4, 80], np.nan, np.float32))
    bands = tmp_path / "bands.npy"
    np.save(bands, np.zeros([4, 64], np.float32))
    other_rate = tmp_path / "rate.npz"
    np.savez(other_rate, mel=np.zeros([4, 80], np.float32), sample_rate=16000)
    out = str(tmp_path / "o.wav")
    for argv, words in ((["--wav", str(empty)], "empty"), (["--wav", stereo], "2 channels"),
                        (["--mel", str(nan)], "NaN"), (["--mel", str(bands)], "64 bands"),
                        (["--mel", str(other_rate)], "16000 Hz")):
        assert _vocode(*argv, "--out", out) == 2, argv
        assert words in capsys.readouterr().err, argv
    assert not os.path.exists(out)

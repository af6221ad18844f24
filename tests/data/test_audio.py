import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tfar.data.audio import audio_dataset, load_corpus, log_mel, mu_law_decode, mu_law_encode, trim_silence

CORPUS = "/usr/share/asterisk/sounds/en_US_f_Allison"
RATE = 8000


def write_wav(path, wave, rate=RATE):
    wave = np.asarray(wave, np.float32)
    if wave.ndim == 1:
        wave = wave[:, None]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(str(path), tf.audio.encode_wav(wave, rate))


def tone(n, amplitude=0.5, freq=440.0, rate=RATE):
    return amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)


# -------------------------------------------------------------------- mu-law
def test_decode_then_encode_is_identity_on_every_code():
    codes = np.arange(256)
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(codes)).numpy(), codes)
    small = np.arange(16)
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(small, 16), 16).numpy(), small)


def test_encode_is_monotone_and_covers_every_code():
    wave = np.linspace(-1.0, 1.0, 200_001)
    codes = mu_law_encode(wave).numpy()
    assert np.all(np.diff(codes) >= 0)
    np.testing.assert_array_equal(np.unique(codes), np.arange(256))
    assert np.all(np.diff(mu_law_decode(np.arange(256)).numpy()) > 0)


def test_edges_clipping_and_silence():
    values = mu_law_encode(np.array([-1.0, 1.0, -3.0, 7.5, 0.0], np.float32)).numpy()
    np.testing.assert_array_equal(values, [0, 255, 0, 255, 128])
    assert mu_law_encode(tf.constant(0.0)).dtype == tf.int32
    assert int(mu_law_encode(0.0, levels=16)) == 8
    np.testing.assert_allclose(mu_law_decode(np.array([0, 255])).numpy(), [-1.0, 1.0], atol=1e-6)
    assert abs(float(mu_law_decode(128))) < 0.001


def test_matches_closed_form_curve():
    mu = 255.0
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=5000)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    expected = np.floor((companded + 1) / 2 * mu + 0.5)
    got = mu_law_encode(x.astype(np.float32)).numpy()
    near_boundary = np.abs((companded + 1) / 2 * mu + 0.5 - np.round((companded + 1) / 2 * mu + 0.5)) < 1e-4
    np.testing.assert_array_equal(got[~near_boundary], expected[~near_boundary])
    codes = np.arange(256)
    y = 2 * codes / mu - 1
    np.testing.assert_allclose(mu_law_decode(codes).numpy(), np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu, atol=1e-6)


def test_keeps_shape_of_tensor_input():
    wave = tf.random.stateless_uniform([2, 3, 5], [1, 2], -1, 1)
    assert mu_law_encode(wave).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="levels"):
        mu_law_encode(wave, levels=1)


# ------------------------------------------------------------------- dataset
@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    silence = np.zeros(RATE // 4)
    write_wav(root / "a" / "speech.wav", np.concatenate([silence, tone(3000), silence]))
    write_wav(root / "a" / "deep" / "quiet.wav", 0.001 * tone(2000))  # below the trim threshold throughout
    write_wav(root / "short.wav", tone(100))
    write_wav(root / "stereo.wav", np.stack([np.full(1500, 0.5), np.full(1500, 0.1)], axis=1))
    (root / "notes.txt").write_text("not audio, not a wav")
    return root


def test_segments_have_the_right_shape_and_code_range(corpus):
    ds = audio_dataset(str(corpus), 512, 3, split="all", seed=1)
    batch = next(iter(ds))
    assert batch.dtype == tf.int32 and batch.shape == (3, 512)
    values = batch.numpy()
    assert values.min() >= 0 and values.max() < 256
    test_ds = audio_dataset(str(corpus), 512, 8, split="all")  # no repeat: one segment per file
    assert sum(int(b.shape[0]) for b in test_ds) == 4


def test_trimming_keeps_every_file_and_pads_with_silence(corpus):
    waves, rate, names = load_corpus(str(corpus), split="all", trim_threshold=0.01)
    assert rate == RATE and len(waves) == 4
    by_name = dict(zip(names, waves))
    assert set(by_name) == {"a/speech.wav", "a/deep/quiet.wav", "short.wav", "stereo.wav"}
    assert len(by_name["a/deep/quiet.wav"]) == 2000  # trimming would empty it: kept whole
    assert len(by_name["a/speech.wav"]) < 3000 + RATE // 2  # the silent margins are gone
    np.testing.assert_allclose(by_name["stereo.wav"], 0.3, atol=1e-3)  # channels averaged to mono
    assert len(trim_silence(np.zeros(10, np.float32), 0.5)) == 10
    short = audio_dataset(str(corpus / "short.wav"), 400, 1, split="all")
    codes = next(iter(short)).numpy()[0]
    assert np.all(codes[100:] == 128) and np.any(codes[:100] != 128)


def test_split_is_disjoint_and_stable_across_locations(tmp_path):
    root = tmp_path / "many"
    for i in range(60):
        write_wav(root / f"d{i % 3}" / f"clip{i}.wav", tone(300, freq=200 + i))
    names = {}
    for split in ("train", "validation", "test", "all"):
        names[split] = load_corpus(str(root), split=split, holdout_fraction=0.2, validation_fraction=0.2)[2]
    assert names["train"] and names["validation"] and names["test"]
    assert not set(names["train"]) & set(names["test"])
    assert not set(names["train"]) & set(names["validation"])
    assert not set(names["validation"]) & set(names["test"])
    assert sorted(names["train"] + names["validation"] + names["test"]) == sorted(names["all"])
    # the test files do not depend on the validation fraction: raising it never moves a test file
    assert load_corpus(str(root), split="test", holdout_fraction=0.2, validation_fraction=0.4)[2] == names["test"]
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(root, moved)
    assert load_corpus(str(moved), split="test", holdout_fraction=0.2)[2] == names["test"]
    glob_names = load_corpus(str(moved) + "/**/*.wav", split="test", holdout_fraction=0.2)[2]
    assert glob_names == names["test"]
    # a glob over one sub-folder puts each of its files in the same split as before
    held = load_corpus(str(moved / "d1") + "/*.wav", split="test", holdout_fraction=0.2)[2]
    assert held == sorted(n[3:] for n in names["test"] if n.startswith("d1/"))


def test_split_fractions_are_checked(tmp_path):
    write_wav(tmp_path / "a.wav", tone(300))
    with pytest.raises(ValueError, match="holdout_fraction \\+ validation_fraction must be < 1"):
        load_corpus(str(tmp_path), split="train", holdout_fraction=0.6, validation_fraction=0.5)
    with pytest.raises(ValueError, match="split must be one of"):
        load_corpus(str(tmp_path), split="valid")


def test_bad_files_raise_naming_the_file(tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("this is text, not RIFF audio")
    with pytest.raises(ValueError, match="fake.wav"):
        audio_dataset(str(fake), 64, 1, split="all")
    empty = tmp_path / "empty" / "empty.wav"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.wav"):
        audio_dataset(str(empty.parent), 64, 1, split="all")
    missing = tmp_path / "nothing_here"
    missing.mkdir()
    with pytest.raises(ValueError, match="nothing_here"):
        audio_dataset(str(missing), 64, 1)


def test_sample_rates_resampled_or_rejected(tmp_path):
    write_wav(tmp_path / "low.wav", tone(800, rate=8000), rate=8000)
    write_wav(tmp_path / "high.wav", tone(3200, rate=16000), rate=16000)
    with pytest.raises(ValueError, match=r"high.wav.*16000.*8000"):
        load_corpus(str(tmp_path), sample_rate=8000, split="all", resample_audio=False, trim_threshold=None)
    waves, rate, names = load_corpus(str(tmp_path), sample_rate=8000, split="all", trim_threshold=None)
    lengths = dict(zip(names, map(len, waves)))
    assert rate == 8000 and lengths == {"high.wav": 1600, "low.wav": 800}
    resampled = dict(zip(names, waves))["high.wav"]
    np.testing.assert_allclose(resampled[100:-100], tone(1600)[100:-100], atol=0.02)


def test_local_features_are_aligned_to_their_hop_window(tmp_path):
    hop, frames = 40, 6
    wave = np.zeros(hop * frames)
    wave[3 * hop : 4 * hop] = tone(hop, 0.8, freq=1000)
    write_wav(tmp_path / "burst.wav", wave)
    ds = audio_dataset(str(tmp_path), hop * frames, 1, split="all", trim_threshold=None,
                       local_features=dict(hop=hop, num_mels=8))
    codes, mel = next(iter(ds))
    assert codes.shape == (1, hop * frames) and mel.shape == (1, frames, 8)
    energy = mel.numpy()[0].max(axis=-1)
    assert int(np.argmax(energy)) == 3
    assert np.all(np.delete(energy, 3) < energy[3] - 5.0)
    direct = log_mel(tf.constant(wave[None], tf.float32), hop, 8, RATE)
    assert direct.shape == (1, frames, 8)
    with pytest.raises(ValueError, match="multiple of"):
        audio_dataset(str(tmp_path), 100, 1, split="all", local_features=dict(hop=40, num_mels=8))


def test_real_speech_corpus():
    train = audio_dataset(CORPUS, 2000, 4, seed=3)
    batch = next(iter(train)).numpy()
    assert batch.shape == (4, 2000) and batch.min() >= 0 and batch.max() <= 255
    assert len(np.unique(batch)) > 50  # real speech, not silence
    names = {split: set(load_corpus(CORPUS, split=split)[2]) for split in ("train", "validation", "test")}
    assert sum(len(n) for n in names.values()) == 568
    assert not names["train"] & names["test"] and not names["train"] & names["validation"]
    assert not names["validation"] & names["test"]
    assert 0.01 < len(names["test"]) / 568 < 0.12 and 0.01 < len(names["validation"]) / 568 < 0.12

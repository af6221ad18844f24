"""Audio for WaveNet (van den Oord et al. 2016, arXiv:1609.03499, sec. 2.2): mu-law codes.

Raw waveforms in [-1, 1] are companded with the mu-law curve (ITU-T G.711) and
quantized to ``levels`` classes, mu = levels - 1:

    f(x)  = sign(x) * ln(1 + mu |x|) / ln(1 + mu)            in [-1, 1]
    code  = floor((f(x) + 1) / 2 * mu + 1/2)                  in {0, ..., mu}
    x'    = sign(y) * ((1 + mu)^|y| - 1) / mu,   y = 2 code / mu - 1

Silence (x = 0) is class ``levels // 2`` (128 for 256 levels) and decoding then
encoding gives back every code. :func:`audio_dataset` turns a folder or glob of WAV
files into batches of random mu-law segments, optionally with log-mel features
aligned to the samples (for local conditioning).
"""

import glob
import hashlib
import os

import numpy as np
import tensorflow as tf

from tfar.arg_checks import checked_int, optional_positive_int, positive_int, rate_in_unit_interval

SPLITS = ("train", "validation", "test", "all")
PCM_MAX = 32767


def _check_levels(levels):
    return checked_int("levels", levels, "an int >= 2", lambda v: v >= 2)


def mu_law_encode(wave, levels=256):
    """Waveform in [-1, 1] (values outside are clipped) -> int32 codes in [0, levels).

    ``code = floor((sign(x) ln(1 + mu|x|) / ln(1 + mu) + 1) / 2 * mu + 1/2)``, mu = levels - 1.
    Works on tensors and NumPy arrays of any shape.
    """
    mu = float(_check_levels(levels) - 1)
    x = tf.clip_by_value(tf.cast(wave, tf.float32), -1.0, 1.0)
    companded = tf.sign(x) * tf.math.log1p(mu * tf.abs(x)) / np.log1p(mu)
    return tf.cast(tf.floor((companded + 1.0) / 2.0 * mu + 0.5), tf.int32)


def mu_law_decode(codes, levels=256):
    """int codes in [0, levels) -> float32 waveform in [-1, 1], the inverse of :func:`mu_law_encode`.

    ``y = 2 code / mu - 1``, ``x = sign(y) ((1 + mu)^|y| - 1) / mu``, mu = levels - 1.
    """
    mu = float(_check_levels(levels) - 1)
    y = 2.0 * tf.cast(codes, tf.float32) / mu - 1.0
    return tf.sign(y) * tf.math.expm1(tf.abs(y) * np.log1p(mu)) / mu


# ----------------------------------------------------------------- file loading
def find_audio_files(path_or_glob):
    """Sorted WAV files of a folder (searched recursively), a glob, or one file path."""
    path = os.fspath(path_or_glob)
    if os.path.isdir(path):
        files = [
            os.path.join(root, name)
            for root, _, names in os.walk(path)
            for name in names
            if name.lower().endswith(".wav")
        ]
    elif os.path.isfile(path):
        files = [path]
    else:
        files = [f for f in glob.glob(path, recursive=True) if os.path.isfile(f)]
    if not files:
        raise ValueError(f"no WAV files found at {path!r} (a folder searched recursively for *.wav, or a glob)")
    return sorted(files)


def _relative_name(path, root):
    return os.path.relpath(path, root).replace(os.sep, "/")


def file_split(path, holdout_fraction=0.05, validation_fraction=0.05):
    """The split of one file: "test", "validation" or "train", by a stable hash of its base name.

    u = SHA-1(base name) mapped to [0, 1): "test" when u < holdout_fraction,
    "validation" when u < holdout_fraction + validation_fraction, else "train". Only
    the base name counts, so a file lands in the same split whatever folder, glob or
    machine it is read from, and the three sets are disjoint.
    """
    digest = hashlib.sha1(os.path.basename(path).encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < holdout_fraction:
        return "test"
    return "validation" if u < holdout_fraction + validation_fraction else "train"


def is_held_out(path, holdout_fraction):
    """True when ``path`` is in the test split (see :func:`file_split`)."""
    return file_split(path, holdout_fraction, 0.0) == "test"


def _check_fractions(holdout_fraction, validation_fraction):
    rate_in_unit_interval("holdout_fraction", holdout_fraction)
    rate_in_unit_interval("validation_fraction", validation_fraction)
    if holdout_fraction + validation_fraction >= 1:
        raise ValueError(
            f"holdout_fraction + validation_fraction must be < 1 (something must be left to train on), got "
            f"{holdout_fraction} + {validation_fraction}"
        )


def load_wav(path):
    """(mono float32 samples in [-1, 1], sample rate) of one WAV file, or a ValueError naming it."""
    try:
        contents = tf.io.read_file(path)
        if int(tf.strings.length(contents)) == 0:
            raise ValueError(f"audio file {path!r} is empty (0 bytes)")
        wave, rate = tf.audio.decode_wav(contents)
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as error:
        detail = str(getattr(error, "message", error)).splitlines()[0]
        raise ValueError(f"cannot decode {path!r} as a PCM WAV file: {detail}") from None
    wave = wave.numpy()
    if wave.shape[0] == 0:
        raise ValueError(f"audio file {path!r} holds no samples")
    return wave.mean(axis=1).astype(np.float32), int(rate.numpy())


def codes_to_pcm16(codes, levels=256):
    """mu-law codes [T] -> int16 PCM [T]: decode to floats in [-1, 1], then round(x * 32767)."""
    floats = np.asarray(mu_law_decode(np.asarray(codes, np.int32), levels))
    return np.round(np.clip(floats, -1.0, 1.0) * PCM_MAX).astype(np.int16)


def write_wav(path, pcm, sample_rate):
    """Write int16 samples [T] as a mono 16-bit PCM WAV file (creates the folder); returns path.

    Encoded by ``tf.audio.encode_wav``, which writes round(x * 32768) of floats x in
    [-1, 1]: feeding it pcm / 32768 (exact in float32) writes the int16 samples exactly.
    """
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError(f"pcm must be int16 samples of shape [T], got {pcm.dtype} of shape {pcm.shape}")
    positive_int("sample_rate", sample_rate)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    floats = tf.constant(pcm.astype(np.float32)[:, None] / 32768.0)
    tf.io.write_file(path, tf.audio.encode_wav(floats, int(sample_rate)))
    return path


def write_codes_wav(path, codes, sample_rate, levels=256):
    """mu-law codes [T] -> a 16-bit PCM WAV at ``sample_rate``; returns path."""
    return write_wav(path, codes_to_pcm16(codes, levels), sample_rate)


def resample(wave, rate, target_rate):
    """Band-limited resampling by zero-padding or truncating the spectrum (NumPy FFT).

    Written here because TensorFlow has no audio resampler; scipy.signal.resample does the
    same maths but would be a dependency for one function.
    """
    if rate == target_rate:
        return wave
    n_out = max(1, int(round(len(wave) * target_rate / rate)))
    spectrum = np.fft.rfft(wave.astype(np.float64))
    keep = min(len(spectrum), n_out // 2 + 1)
    out_spectrum = np.zeros(n_out // 2 + 1, np.complex128)
    out_spectrum[:keep] = spectrum[:keep]
    out = np.fft.irfft(out_spectrum, n=n_out) * (n_out / len(wave))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def trim_silence(wave, threshold):
    """Drop leading/trailing samples with |x| < threshold; an all-quiet file is kept whole.

    (Three lines of NumPy; librosa's ``effects.trim`` would pull in an audio stack for them.)
    """
    if threshold is None or threshold <= 0:
        return wave
    loud = np.flatnonzero(np.abs(wave) >= threshold)
    if loud.size == 0:
        return wave
    return wave[loud[0] : loud[-1] + 1]


# ------------------------------------------------------------------- features
def log_mel(wave, hop, num_mels, sample_rate, frame_length=None):
    """Log-mel frames [..., T // hop, num_mels] of float waves [..., T] (tf.signal).

    Frame j covers samples [j*hop, j*hop + frame_length) with frame_length = hop by
    default, so frame j summarises exactly the hop window of samples it is aligned to.
    """
    frame_length = hop if frame_length is None else int(frame_length)
    fft_length = int(2 ** np.ceil(np.log2(frame_length)))
    num_frames = tf.shape(wave)[-1] // hop
    padded = tf.pad(wave, [[0, 0]] * (len(wave.shape) - 1) + [[0, frame_length]])
    stft = tf.signal.stft(padded, frame_length, hop, fft_length, pad_end=False)[..., :num_frames, :]
    matrix = tf.signal.linear_to_mel_weight_matrix(num_mels, fft_length // 2 + 1, sample_rate, 0.0, sample_rate / 2)
    mel = tf.tensordot(tf.abs(stft), matrix, 1)
    return tf.math.log(mel + 1e-6)


def _check_local_features(local_features, segment_length):
    if local_features is None:
        return None
    if not isinstance(local_features, dict) or not {"hop", "num_mels"} <= set(local_features):
        raise ValueError(f"local_features must be None or dict(hop=..., num_mels=...), got {local_features!r}")
    hop, num_mels = local_features["hop"], local_features["num_mels"]
    for name, value in (("hop", hop), ("num_mels", num_mels)):
        positive_int(f"local_features[{name!r}]", value)
    if segment_length % hop:
        raise ValueError(f"segment_length={segment_length} must be a multiple of local_features hop={hop}")
    return dict(local_features)


# -------------------------------------------------------------------- dataset
def load_corpus(path_or_glob, sample_rate=None, split="train", holdout_fraction=0.05, trim_threshold=0.01,
                resample_audio=True, validation_fraction=0.05):
    """(mono float32 waves, sample rate, paths relative to the files' common folder) of one split.

    ``split`` is "train", "validation", "test" or "all"; see :func:`file_split`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    _check_fractions(holdout_fraction, validation_fraction)
    optional_positive_int("sample_rate", sample_rate)
    files = find_audio_files(path_or_glob)
    root = os.path.dirname(files[0]) if len(files) == 1 else os.path.commonpath(files)
    chosen = [
        f for f in files if split == "all" or file_split(f, holdout_fraction, validation_fraction) == split
    ]
    if not chosen:
        raise ValueError(
            f"split {split!r} of {path_or_glob!r} is empty ({len(files)} files, holdout_fraction={holdout_fraction}, "
            f"validation_fraction={validation_fraction})"
        )
    waves, rate = [], sample_rate
    for path in chosen:
        wave, file_rate = load_wav(path)
        if rate is None:
            rate = file_rate
        if file_rate != rate:
            if not resample_audio:
                raise ValueError(
                    f"{path!r} has sample rate {file_rate} Hz but {rate} Hz is required; "
                    "pass resample=True or a matching sample_rate"
                )
            wave = resample(wave, file_rate, rate)
        waves.append(trim_silence(wave, trim_threshold))
    return waves, rate, [_relative_name(f, root) for f in chosen]


def audio_dataset(path_or_glob, segment_length, batch_size, sample_rate=None, split="train", holdout_fraction=0.05,
                  trim_threshold=0.01, resample=True, local_features=None, levels=256, shuffle=None, seed=0,
                  repeat=None, validation_fraction=0.05):
    """Random mu-law segments of a WAV corpus as a tf.data.Dataset.

    Args:
      path_or_glob: a folder (searched recursively for *.wav), a glob, or one file.
      segment_length: samples per example; shorter files are padded with silence
        (class ``levels // 2``) at the end.
      batch_size: examples per batch (the last partial batch is kept when not repeating).
      sample_rate: target rate in Hz; None uses the first file's rate.
      split: "train", "validation", "test" or "all": three disjoint file sets chosen by
        a stable hash of the base name (:func:`file_split`; ``holdout_fraction`` of the
        files are test, ``validation_fraction`` validation), the same on every run and
        machine and whichever folder or glob lists the file. Never train or choose
        checkpoints on "test".
      trim_threshold: leading and trailing samples with |x| below it are dropped
        (None: no trimming); a file that is quiet throughout is kept untrimmed.
      resample: resample files whose rate differs (else ValueError naming the file).
      local_features: None, or dict(hop=..., num_mels=..., frame_length=optional):
        also yield log-mel frames [B, segment_length // hop, num_mels]; frame j
        summarises samples [j*hop, j*hop + frame_length) of the segment.
      levels: mu-law classes.
      shuffle, repeat: default True for "train" and False otherwise.
      seed: seeds file shuffling and segment offsets (deterministic pipeline).

    Returns:
      A dataset of int32 codes [B, segment_length], or (codes, features) pairs.
    """
    levels = _check_levels(levels)
    positive_int("segment_length", segment_length)
    positive_int("batch_size", batch_size)
    features = _check_local_features(local_features, segment_length)
    waves, rate, _ = load_corpus(path_or_glob, sample_rate, split, holdout_fraction, trim_threshold, resample,
                                 validation_fraction)
    shuffle = (split == "train") if shuffle is None else bool(shuffle)
    repeat = (split == "train") if repeat is None else bool(repeat)

    lengths = np.array([len(w) for w in waves], np.int64)
    ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(waves), lengths)
    files = tf.data.Dataset.from_tensor_slices(ragged)
    if shuffle:
        files = files.shuffle(len(waves), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        files = files.repeat()
    offsets = tf.data.Dataset.random(seed=seed)
    ds = tf.data.Dataset.zip(files, offsets)

    def segment(wave, random):
        wave = tf.cast(wave, tf.float32)
        spare = tf.maximum(tf.shape(wave)[0] - segment_length, 0)
        pair = tf.stack([random, tf.constant(seed, tf.int64)])
        start = tf.random.stateless_uniform([], pair, 0, tf.cast(spare + 1, tf.int64), dtype=tf.int64)
        piece = wave[tf.cast(start, tf.int32) :][:segment_length]
        piece = tf.pad(piece, [[0, segment_length - tf.shape(piece)[0]]])
        piece = tf.ensure_shape(piece, [segment_length])
        codes = mu_law_encode(piece, levels)
        if features is None:
            return codes
        mel = log_mel(piece[None], features["hop"], features["num_mels"], rate, features.get("frame_length"))[0]
        return codes, tf.ensure_shape(mel, [segment_length // features["hop"], features["num_mels"]])

    ds = ds.map(segment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------ vocoder mel front end
MEL_FLOOR = 1e-5  # log(max(mel, MEL_FLOOR)): Tacotron 2's dynamic-range compression
MEL_KEYS = ("sample_rate", "frame_length", "hop_length", "num_mels", "fmin", "fmax")
# Tacotron 2's setting scaled to 8 kHz: 80 bands, a 12.5 ms hop, a 64 ms window (n_fft 512)
DEFAULT_MEL = {"sample_rate": 8000, "frame_length": 512, "hop_length": 100, "num_mels": 80, "fmin": 0.0,
               "fmax": 4000.0}


class AudioInputError(ValueError):
    """Base of the named errors raised for unusable vocoder input (all are ValueErrors)."""


class MelShapeError(AudioInputError):
    """A mel spectrogram that is not float [frames, num_mels] or [batch, frames, num_mels], or has no frames."""


class MelBandsError(AudioInputError):
    """A mel spectrogram with a different number of bands than the vocoder's front end."""


class NonFiniteInputError(AudioInputError):
    """A wave or mel spectrogram holding NaN or infinity."""


class EmptyAudioError(AudioInputError):
    """An audio file of 0 bytes or 0 samples, or a wave too short for one mel frame."""


class StereoAudioError(AudioInputError):
    """An audio file with more than one channel (the vocoder reads mono speech)."""


class SampleRateError(AudioInputError):
    """Audio or a mel spectrogram at a different sample rate than the vocoder's."""


def check_mel_params(sample_rate=8000, frame_length=512, hop_length=100, num_mels=80, fmin=0.0, fmax=None):
    """The mel front end's parameters, checked, as a JSON-ready dict (fmax None -> sample_rate / 2)."""
    positive_int("sample_rate", sample_rate)
    positive_int("frame_length", frame_length)
    positive_int("hop_length", hop_length)
    positive_int("num_mels", num_mels)
    if hop_length > frame_length:
        raise ValueError(f"hop_length={hop_length} must be <= frame_length={frame_length} (frames would skip samples)")
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= float(fmin) < float(fmax) <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2 = {sample_rate / 2}, got fmin={fmin}, fmax={fmax}")
    return {"sample_rate": int(sample_rate), "frame_length": int(frame_length), "hop_length": int(hop_length),
            "num_mels": int(num_mels), "fmin": float(fmin), "fmax": float(fmax)}


def fft_length(frame_length):
    """FFT size of a frame: frame_length rounded up to a power of two."""
    return int(2 ** np.ceil(np.log2(frame_length)))


def mel_filterbank(sample_rate, frame_length, num_mels, fmin, fmax):
    """float32 [fft_length // 2 + 1, num_mels]: tf.signal's HTK-mel triangles (no area normalisation)."""
    bins = fft_length(frame_length) // 2 + 1
    return tf.signal.linear_to_mel_weight_matrix(num_mels, bins, sample_rate, float(fmin), float(fmax))


def mel_padding(frame_length, hop_length):
    """Zero samples put before the wave so that frame j is centred on its hop block: (frame_length - hop) // 2."""
    return (frame_length - hop_length) // 2


def log_mel_spectrogram(wave, sample_rate=8000, frame_length=512, hop_length=100, num_mels=80, fmin=0.0, fmax=None):
    """Log-mel frames float32 [..., T // hop_length, num_mels] of float waves [..., T] in [-1, 1] (tf.signal).

    Alignment (what the vocoder's WaveNet assumes): frame j belongs to the hop block of
    samples [j*hop, (j+1)*hop), the block over which the model repeats it. Its analysis
    window of ``frame_length`` samples (periodic Hann, FFT size :func:`fft_length`) is
    centred on that block: it covers samples [j*hop - p, j*hop - p + frame_length) with
    p = (frame_length - hop) // 2 (:func:`mel_padding`), so it sees about p samples on
    each side of its block (the periodic Hann window's first tap is 0: sample j*hop - p
    has no weight). For sample t in block j = floor(t / hop) that is evidence of up to
    frame_length - p - 1 samples after the block's start (305 for n 512, hop 100). Samples outside [0, T) count as zeros; a trailing partial
    block (T mod hop samples) gets no frame. Values: log(max(|STFT| @ mel triangles, 1e-5)),
    magnitudes (not power) of waves in [-1, 1].
    """
    params = check_mel_params(sample_rate, frame_length, hop_length, num_mels, fmin, fmax)
    wave = tf.convert_to_tensor(wave, tf.float32)
    hop, n = params["hop_length"], params["frame_length"]
    length = tf.shape(wave)[-1]
    num_frames = length // hop
    left = mel_padding(n, hop)
    right = tf.maximum(n - left, (num_frames - 1) * hop + n - left - length)
    paddings = tf.concat([tf.zeros([len(wave.shape) - 1, 2], tf.int32), [[left, right]]], axis=0)
    padded = tf.pad(wave, paddings)
    stft = tf.signal.stft(padded, n, hop, fft_length(n), pad_end=False)[..., :num_frames, :]
    matrix = mel_filterbank(params["sample_rate"], n, params["num_mels"], params["fmin"], params["fmax"])
    mel = tf.tensordot(tf.abs(stft), matrix, 1)
    return tf.math.log(tf.maximum(mel, MEL_FLOOR))


def audio_mel_dataset(path_or_glob, segment_length, batch_size, mel=None, split="train", holdout_fraction=0.05,
                      validation_fraction=0.05, trim_threshold=0.01, levels=256, shuffle=None, repeat=None, seed=0,
                      resample=True):
    """(mu-law codes [B, segment_length], log-mel frames [B, segment_length // hop, num_mels]) of a WAV corpus.

    The vocoder's training data. The same files and splits as :func:`audio_dataset`
    (:func:`file_split`). Each file is resampled to ``mel["sample_rate"]``, trimmed
    like :func:`audio_dataset`, cut to whole hop blocks and its mel computed ONCE over the
    whole file (:func:`log_mel_spectrogram`), so the frames seen in training are the
    frames a whole recording gives at inference (not recomputed on a zero-padded
    segment). A segment starts at a whole frame s (uniform over the file): codes of
    samples [s*hop, s*hop + segment_length) with frames [s, s + segment_length // hop).
    Files shorter than a segment are padded with silence before their mel is computed.
    """
    mel = check_mel_params(**(mel or DEFAULT_MEL))
    levels = _check_levels(levels)
    positive_int("segment_length", segment_length)
    positive_int("batch_size", batch_size)
    hop = mel["hop_length"]
    if segment_length % hop:
        raise ValueError(f"segment_length={segment_length} must be a multiple of hop_length={hop}")
    seg_frames = segment_length // hop
    waves, rate, _ = load_corpus(path_or_glob, mel["sample_rate"], split, holdout_fraction, trim_threshold, resample,
                                 validation_fraction)
    cut, mels = [], []
    for wave in waves:
        wave = np.pad(wave, (0, max(0, segment_length - len(wave))))
        wave = wave[: len(wave) // hop * hop]
        cut.append(wave)
        mels.append(log_mel_spectrogram(wave, **mel).numpy())
    shuffle = (split == "train") if shuffle is None else bool(shuffle)
    repeat = (split == "train") if repeat is None else bool(repeat)
    frames = np.array([len(m) for m in mels], np.int64)
    wave_rt = tf.RaggedTensor.from_row_lengths(np.concatenate(cut), frames * hop)
    mel_rt = tf.RaggedTensor.from_row_lengths(np.concatenate(mels), frames)
    files = tf.data.Dataset.from_tensor_slices((wave_rt, mel_rt))
    if shuffle:
        files = files.shuffle(len(cut), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        files = files.repeat()
    ds = tf.data.Dataset.zip(files, tf.data.Dataset.random(seed=seed))
    num_mels = mel["num_mels"]

    def segment(pair, random):
        wave, frames_ = pair
        spare = tf.shape(frames_)[0] - seg_frames
        key = tf.stack([random, tf.constant(seed, tf.int64)])
        start = tf.cast(tf.random.stateless_uniform([], key, 0, tf.cast(spare + 1, tf.int64), dtype=tf.int64),
                        tf.int32)
        piece = tf.ensure_shape(wave[start * hop : start * hop + segment_length], [segment_length])
        feats = tf.ensure_shape(frames_[start : start + seg_frames], [seg_frames, num_mels])
        return mu_law_encode(piece, levels), feats

    ds = ds.map(segment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)

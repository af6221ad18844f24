"""Audio helpers for training and sampling WaveNet: WAV output, audio summaries, a time budget.

A generated clip of mu-law codes becomes a playable file by inverting the
companding (:func:`tfar.data.audio.mu_law_decode`) and quantizing to 16-bit PCM:

    x    = mu_law_decode(codes)                  float in [-1, 1]
    pcm  = round(clip(x, -1, 1) * 32767)         int16

``AudioSamples`` writes such a clip per epoch (``RUN/samples/epoch_NNN.wav``) and
logs it to TensorBoard with ``tf.summary.audio``, the audio counterpart of
:class:`tfar.training.callbacks.SampleGrid`. WaveNet: van den Oord et al. 2016
(arXiv:1609.03499).
"""

import os
import wave

import numpy as np
import tensorflow as tf

from tfar.arg_checks import positive_int
from tfar.data.audio import mu_law_decode
from tfar.training import run as run_lib
from tfar.training.callbacks import EpochSamples

PCM_MAX = 32767


def codes_to_pcm16(codes, levels=256):
    """mu-law codes [T] -> int16 PCM [T]: decode to floats in [-1, 1], then round(x * 32767)."""
    floats = np.asarray(mu_law_decode(np.asarray(codes, np.int32), levels))
    return np.round(np.clip(floats, -1.0, 1.0) * PCM_MAX).astype(np.int16)


def write_wav(path, pcm, sample_rate):
    """Write int16 samples [T] as a mono 16-bit PCM WAV file (creates the folder); returns path."""
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError(f"pcm must be int16 samples of shape [T], got {pcm.dtype} of shape {pcm.shape}")
    positive_int("sample_rate", sample_rate)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.astype("<i2").tobytes())
    return path


def write_codes_wav(path, codes, sample_rate, levels=256):
    """mu-law codes [T] -> a 16-bit PCM WAV at ``sample_rate``; returns path."""
    return write_wav(path, codes_to_pcm16(codes, levels), sample_rate)


class AudioSamples(EpochSamples):
    """Write ``run_dir/samples/epoch_NNN.wav`` (and a TensorBoard audio summary) every ``every`` epochs.

    NNN is the 1-based epoch number; with ``num_samples`` > 1 the files are
    ``epoch_NNN_K.wav``. The same ``seed`` is used every time so clips of successive
    epochs are directly comparable.

    Args:
      run_dir: the run folder.
      sample_rate: rate of the training audio in Hz.
      seconds: length of each clip.
      num_samples: clips per epoch.
      every: write clips after every ``every``-th epoch.
      seed: sampling seed.
      temperature: sampling temperature.
      log_dir: TensorBoard folder (default run_dir/logs/samples).
      tensorboard: log the clips with ``tf.summary.audio`` (ignored without the ``tensorboard`` package).
    """

    def __init__(self, run_dir, sample_rate, seconds=0.5, num_samples=1, every=1, seed=0, temperature=1.0,
                 log_dir=None, tensorboard=True):
        positive_int("sample_rate", sample_rate)
        if not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        super().__init__(run_dir, num_samples, every, seed, temperature, log_dir, tensorboard)
        self.sample_rate = int(sample_rate)
        self.length = max(1, int(round(seconds * sample_rate)))

    def paths_for(self, epoch):
        """WAV paths for the 0-based keras ``epoch``."""
        folder = os.path.join(self.run_dir, run_lib.SAMPLES)
        if self.num_samples == 1:
            return [os.path.join(folder, f"epoch_{epoch + 1:03d}.wav")]
        return [os.path.join(folder, f"epoch_{epoch + 1:03d}_{k + 1}.wav") for k in range(self.num_samples)]

    def write(self, epoch):
        levels = self.model.num_levels
        codes = np.asarray(self.model.sample(self.num_samples, length=self.length, seed=self.seed,
                                             temperature=self.temperature))
        for path, clip in zip(self.paths_for(epoch), codes):
            write_codes_wav(path, clip, self.sample_rate, levels)
        if self.tensorboard:
            waves = mu_law_decode(codes, levels)[:, :, None]  # [k, T, channels]
            self.log_summary(tf.summary.audio, "samples", waves, self.sample_rate, step=epoch + 1,
                             max_outputs=self.num_samples)


__all__ = ["AudioSamples", "codes_to_pcm16", "write_codes_wav", "write_wav"]

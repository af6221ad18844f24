"""Training callbacks: sample grids or audio clips per epoch and the standard set for a run folder.

``make_callbacks(run_dir)`` gives checkpoints (last + best weights), a
``BackupAndRestore`` so that rerunning an interrupted training resumes at the last
finished epoch, TensorBoard logs, a sample grid (or WAV clip) per epoch, the run's
measurements (:class:`tfar.training.record.TrainingRecord`) and a CSV history. The
folder layout is described in :mod:`tfar.training.run`.

Audio clips are mu-law codes made playable by :func:`tfar.data.audio.write_codes_wav`
(decode to [-1, 1], 16-bit PCM). WaveNet: van den Oord et al. 2016 (arXiv:1609.03499).
"""

import csv
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfar import visualize
from tfar.arg_checks import positive_int
from tfar.data import audio
from tfar.training import run as run_lib
from tfar.training.averaging import PolyakAveraging
from tfar.training.record import TrainingRecord


def sample_conditions(num_samples, num_classes, label=None):
    """Labels for a sample grid and the number of columns.

    Unconditional: (None, ceil(sqrt(num_samples))). With ``label``: ``num_samples`` copies of it.
    Otherwise one row per class with ceil(num_samples / num_classes) samples each.
    """
    if num_classes is None:
        if label is not None:
            raise ValueError(f"label={label!r} given but the model is unconditional")
        return None, math.ceil(math.sqrt(num_samples))
    if label is not None:
        if not 0 <= int(label) < num_classes:
            raise ValueError(f"label must be in [0, {num_classes}), got {label!r}")
        return np.full([num_samples], int(label), np.int32), math.ceil(math.sqrt(num_samples))
    per_class = max(1, math.ceil(num_samples / num_classes))
    return np.repeat(np.arange(num_classes, dtype=np.int32), per_class), per_class


class EpochSamples(keras.callbacks.Callback):
    """Base of :class:`SampleGrid` and :class:`AudioSamples`.

    Calls ``write(epoch)`` after every ``every``-th epoch and logs summaries to a
    TensorBoard writer opened on first use (closed when training ends).
    """

    def __init__(self, run_dir, num_samples, every, seed, temperature, log_dir, tensorboard):
        super().__init__()
        self.run_dir = os.fspath(run_dir)
        self.num_samples = positive_int("num_samples", num_samples)
        self.every = positive_int("every", every)
        self.seed = seed
        self.temperature = temperature
        self.log_dir = log_dir or os.path.join(self.run_dir, run_lib.LOGS, "samples")
        self.tensorboard = bool(tensorboard)
        self._writer = None

    def write(self, epoch):
        """Sample and write the files for the 0-based keras ``epoch``."""
        raise NotImplementedError

    def log_summary(self, summary, *args, **kwargs):
        """Call ``summary`` (a ``tf.summary`` function) into the TensorBoard folder."""
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            summary(*args, **kwargs)
        self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.write(epoch)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


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
      tensorboard: log the clips with ``tf.summary.audio``.
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
            audio.write_codes_wav(path, clip, self.sample_rate, levels)
        if self.tensorboard:
            waves = audio.mu_law_decode(codes, levels)[:, :, None]  # [k, T, channels]
            self.log_summary(tf.summary.audio, "samples", waves, self.sample_rate, step=epoch + 1,
                             max_outputs=self.num_samples)


class SampleGrid(EpochSamples):
    """Write ``run_dir/samples/epoch_NNN.png`` (and a TensorBoard image) every ``every`` epochs.

    NNN is the 1-based epoch number. A class-conditional model gets one row per
    class. The same ``seed`` is used every time so grids of successive epochs are
    directly comparable.

    Args:
      run_dir: the run folder.
      num_samples: samples per grid (conditional: per grid, split evenly over classes).
      every: write a grid after every ``every``-th epoch.
      seed: sampling seed.
      temperature: sampling temperature.
      method: "fast" or "naive" (see ``AutoregressiveModel.sample``).
      log_dir: TensorBoard folder for the images (default run_dir/logs/samples).
      tensorboard: whether to log the grid image to TensorBoard.
    """

    def __init__(self, run_dir, num_samples=16, every=1, seed=0, temperature=1.0, method="fast",
                 log_dir=None, tensorboard=True):
        super().__init__(run_dir, num_samples, every, seed, temperature, log_dir, tensorboard)
        self.method = method

    def path_for(self, epoch):
        """PNG path for the 0-based keras ``epoch``."""
        return os.path.join(self.run_dir, run_lib.SAMPLES, f"epoch_{epoch + 1:03d}.png")

    def write(self, epoch):
        model = self.model
        condition, ncols = sample_conditions(self.num_samples, model.num_classes)
        num = self.num_samples if condition is None else len(condition)
        samples = model.sample(num, condition=condition, seed=self.seed, temperature=self.temperature,
                               method=self.method)
        grid = visualize.image_grid(np.asarray(samples), model.num_levels, ncols=ncols)
        visualize.save_png(self.path_for(epoch), grid)
        if self.tensorboard:
            self.log_summary(tf.summary.image, "samples", grid[None], step=epoch + 1)


def _best_so_far(history_path, monitor):
    """Lowest ``monitor`` value in an existing history CSV, or None."""
    if not os.path.isfile(history_path):
        return None
    values = []
    with open(history_path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                values.append(float(row[monitor]))
            except (KeyError, TypeError, ValueError):
                continue
    values = [v for v in values if math.isfinite(v)]
    return min(values) if values else None


def make_callbacks(run_dir, monitor="val_loss", num_samples=16, sample_every=1, seed=0, samples=True,
                   tensorboard=True, sample_rate=None, sample_seconds=0.5, batch_size=None, averaging=False):
    """The standard callbacks of a run folder, in the order they should run.

    [ModelCheckpoint(last), ModelCheckpoint(best by ``monitor``), TensorBoard,
    SampleGrid, TrainingRecord, CSVLogger, BackupAndRestore]. The backup is kept after
    training ends, so rerunning with a larger number of epochs continues the run
    instead of restarting it. ``monitor`` is "val_loss" with validation data, else
    "loss". Audio models pass their ``sample_rate``: the samples are then
    ``sample_seconds`` long WAV clips (:class:`AudioSamples`) instead of a grid.
    ``batch_size`` (the global batch) turns on the run's measurements
    (:class:`TrainingRecord`). ``averaging``: the optimizer keeps Polyak averages
    (``use_ema=True``); validation, checkpoints and samples then use the averages
    (:class:`tfar.training.averaging.PolyakAveraging`).
    """
    run_dir = os.fspath(run_dir)
    os.makedirs(os.path.join(run_dir, run_lib.CHECKPOINTS), exist_ok=True)
    history = os.path.join(run_dir, run_lib.HISTORY)
    best = keras.callbacks.ModelCheckpoint(
        run_lib.weights_path(run_dir, "best"), monitor=monitor, mode="min", save_best_only=True,
        save_weights_only=True, verbose=0,
    )
    previous_best = _best_so_far(history, monitor)
    if previous_best is not None:  # resuming: only a better epoch replaces the best weights
        best.best = previous_best
    averages = PolyakAveraging() if averaging else None
    callbacks = [averages.swap_in] if averages else []
    callbacks += [
        keras.callbacks.ModelCheckpoint(run_lib.weights_path(run_dir, "last"), save_weights_only=True, verbose=0),
        best,
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, run_lib.LOGS), write_graph=False))
    if samples and sample_rate is not None:
        callbacks.append(AudioSamples(run_dir, sample_rate, seconds=sample_seconds, num_samples=num_samples,
                                      every=sample_every, seed=seed, tensorboard=tensorboard))
    elif samples:
        callbacks.append(SampleGrid(run_dir, num_samples=num_samples, every=sample_every, seed=seed,
                                    tensorboard=tensorboard))
    if batch_size is not None:
        callbacks.append(TrainingRecord(run_dir, batch_size, monitor=monitor))
    callbacks.append(keras.callbacks.CSVLogger(history, append=True))
    if averages:
        callbacks.append(averages.swap_out)
    # Last: the backup is only written once everything else for the epoch is on disk.
    callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(run_dir, run_lib.BACKUP), delete_checkpoint=False))
    return callbacks


__all__ = ["AudioSamples", "EpochSamples", "SampleGrid", "TimeBudget", "make_callbacks", "sample_conditions"]


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall time have passed (checked after every batch).

    The epoch in progress ends early, so its checkpoints and backup are still written.
    """

    def __init__(self, seconds):
        super().__init__()
        if not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        self.seconds = float(seconds)
        self.steps = 0
        self.hit = False
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self._start >= self.seconds:
            self.hit = True
            self.model.stop_training = True

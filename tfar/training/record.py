"""What a training run measured, written by the run itself (never typed in).

``TrainingRecord`` adds to every epoch's logs (and so to ``history.csv``):

    wall_seconds        wall time of the completed epochs so far, over every session of the run
    steps               optimizer steps taken so far (the optimizer's own counter)
    examples            examples trained on so far = steps x global batch size
    images_per_second   this epoch's training throughput (validation time excluded)

and keeps ``RUN/train_stats.json`` up to date after each epoch: the totals, the median
throughput over epochs, and the best epoch by the validation loss. A run killed
mid-epoch loses that epoch's time and steps, as it loses its weights: the figures
describe the training the saved state holds.
"""

import json
import math
import os
import statistics
import time

import keras

from tfar.arg_checks import positive_int
from tfar.training import run as run_lib


def read_train_stats(run_dir):
    """The dict in RUN/train_stats.json, or None for a run that has not finished an epoch."""
    path = os.path.join(os.fspath(run_dir), run_lib.TRAIN_STATS)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class TrainingRecord(keras.callbacks.Callback):
    """Measure steps, examples, wall time and throughput; write RUN/train_stats.json every epoch.

    Put it before ``CSVLogger`` so the extra columns reach ``history.csv``.

    Args:
      run_dir: the run folder.
      batch_size: examples per optimizer step (the global batch under a distribution strategy).
      monitor: the validation metric that picks the best epoch ("val_loss"), or "loss" without validation.
    """

    def __init__(self, run_dir, batch_size, monitor="val_loss"):
        super().__init__()
        self.run_dir = os.fspath(run_dir)
        self.batch_size = positive_int("batch_size", batch_size)
        self.monitor = monitor
        self._previous_seconds = 0.0
        self._epochs = []

    def on_train_begin(self, logs=None):
        stats = read_train_stats(self.run_dir) or {}
        self._epochs = list(stats.get("epochs", []))
        self._previous_seconds = float(stats.get("wall_seconds", 0.0))
        self._steps_before = int(stats.get("steps", 0)) if self._epochs else 0
        self._session_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._test_seconds = 0.0
        self._epoch_first_step = int(self.model.optimizer.iterations.numpy())
        if self._steps_before and self._epoch_first_step == 0:
            # Keras skips (with a warning only) an optimizer state whose variables do not match the optimizer's
            raise RuntimeError(
                f"{self.run_dir}: resumed with the optimizer's step count at 0, but the run has taken "
                f"{self._steps_before} steps: the optimizer state in backup/ did not load (a different optimizer, "
                "or its settings changed in a way that changes its variables); Adam's moments and the averages "
                "would start over. Resume with the run's own settings, or train into a new --out folder")
        self._steps_before = 0  # checked once, at the first epoch of the session

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self._test_seconds += time.perf_counter() - self._test_start

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        now = time.perf_counter()
        steps = int(self.model.optimizer.iterations.numpy())
        epoch_steps = steps - self._epoch_first_step
        train_seconds = max(now - self._epoch_start - self._test_seconds, 1e-9)
        wall = self._previous_seconds + (now - self._session_start)
        record = {
            "epoch": epoch + 1, "wall_seconds": round(wall, 1), "steps": steps, "examples": steps * self.batch_size,
            "images_per_second": round(epoch_steps * self.batch_size / train_seconds, 2),
        }
        record.update({k: float(v) for k, v in logs.items() if k.startswith(("loss", "val_", "bits"))})
        self._epochs = [e for e in self._epochs if e["epoch"] < record["epoch"]] + [record]
        for key in ("wall_seconds", "steps", "examples", "images_per_second"):
            logs[key] = record[key]
        self._write(record)

    def _write(self, last):
        candidates = [e for e in self._epochs if math.isfinite(e.get(self.monitor, math.nan))]
        best = min(candidates, key=lambda e: e[self.monitor]) if candidates else None
        stats = {
            "epochs_completed": last["epoch"], "steps": last["steps"], "examples": last["examples"],
            "wall_seconds": last["wall_seconds"], "batch_size": self.batch_size,
            "images_per_second_median": round(statistics.median(e["images_per_second"] for e in self._epochs), 2),
            "monitor": self.monitor, "best_epoch": best["epoch"] if best else None,
            "best": {k: v for k, v in best.items()} if best else None, "epochs": self._epochs,
            "updated": run_lib.now(),
        }
        path = os.path.join(self.run_dir, run_lib.TRAIN_STATS)
        os.makedirs(self.run_dir, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(stats, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(path + ".tmp", path)


__all__ = ["TrainingRecord", "read_train_stats"]

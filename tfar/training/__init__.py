"""Training helpers: run folders, checkpoints/backup, TensorBoard, sample grids and audio clips,
the run's own measurements and Polyak averaging."""

from tfar.data.audio import codes_to_pcm16, write_codes_wav, write_wav  # noqa: F401 - old home, kept for a release
from tfar.training.averaging import PolyakAveraging
from tfar.training.callbacks import AudioSamples, SampleGrid, TimeBudget, make_callbacks, sample_conditions
from tfar.training.record import TrainingRecord, read_train_stats
from tfar.training.run import build_model, load_run_model, read_run_info, weights_path, write_run_info

__all__ = [
    "AudioSamples", "PolyakAveraging", "SampleGrid", "TimeBudget", "TrainingRecord", "build_model", "load_run_model",
    "make_callbacks", "read_run_info", "read_train_stats", "sample_conditions", "weights_path", "write_run_info",
]

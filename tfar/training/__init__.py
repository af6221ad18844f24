"""Training helpers: run folders, checkpoints/backup, TensorBoard and sample-grid callbacks."""

from tfar.training.callbacks import SampleGrid, make_callbacks, sample_conditions
from tfar.training.run import build_model, load_run_model, read_run_info, weights_path, write_run_info

__all__ = [
    "SampleGrid", "build_model", "load_run_model", "make_callbacks", "read_run_info", "sample_conditions",
    "weights_path", "write_run_info",
]

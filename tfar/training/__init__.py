"""Training helpers: run folders, checkpoints/backup, TensorBoard, sample grids and audio clips."""

from tfar.training.audio import AudioSamples, codes_to_pcm16, write_codes_wav, write_wav
from tfar.training.callbacks import SampleGrid, TimeBudget, make_callbacks, sample_conditions
from tfar.training.run import build_model, load_run_model, read_run_info, weights_path, write_run_info

__all__ = [
    "AudioSamples", "SampleGrid", "TimeBudget", "build_model", "codes_to_pcm16", "load_run_model", "make_callbacks",
    "read_run_info", "sample_conditions", "weights_path", "write_codes_wav", "write_run_info", "write_wav",
]

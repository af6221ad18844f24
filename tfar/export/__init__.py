"""Exporters: SavedModel for TF Serving and ONNX, built on a model's public API only.

    tfar.export.saved_model(model, export_dir) -> export_dir
    tfar.export.onnx(model, output_dir) -> {"log_prob": path, "step": path}

Both write ``tfar_export.json`` (model class and config, signature and tensor names).
The command line front end is ``tfar export`` (:mod:`tfar.cli.export`).
"""

from tfar.export.onnx import onnx
from tfar.export.saved_model import saved_model

__all__ = ["onnx", "saved_model"]

"""Exporters: SavedModel for TF Serving and ONNX, built on a model's public API only.

    tfar.export.saved_model(model, export_dir) -> export_dir
    tfar.export.onnx(model, output_dir) -> {"log_prob": path, "step": path}

Both write ``tfar_export.json`` (model class and config, signature and tensor names).
The command line front end is ``tfar export`` (:mod:`tfar.cli.export`).

The functions live in modules of other names, so that ``tfar.export.onnx`` and
``tfar.export.saved_model`` are the functions and never shadow a module of their own:
:mod:`tfar.export.saved_model_signatures` (the pure functions every format exports, and the
SavedModel writer) and :mod:`tfar.export.onnx_graphs` (the ONNX graphs built from them).
"""

from tfar.export.onnx_graphs import onnx
from tfar.export.saved_model_signatures import saved_model

__all__ = ["onnx", "saved_model"]

"""tfar: autoregressive generative models for Keras 3 / TensorFlow.

``import tfar`` is light and changes nothing in the process: the subpackages
(``tfar.data``, ``tfar.models``, ``tfar.zoo``, ``tfar.export``, ...) are imported on
first use, so TensorFlow Datasets, TensorFlow Probability and tf2onnx load only when
a feature needs them.
"""

import importlib

__version__ = "0.1.0"
_SUBPACKAGES = (
    "data", "distributions", "evaluation", "export", "layers", "models", "sampling", "training", "visualize", "zoo",
)
__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfar.{name}")
    raise AttributeError(f"module 'tfar' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

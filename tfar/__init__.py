"""tfar: autoregressive generative models for Keras 3 / TensorFlow."""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfar import data, distributions, export, layers, models, training, visualize, zoo  # noqa: E402

__version__ = "0.1.0"
__all__ = ["data", "distributions", "export", "layers", "models", "training", "visualize", "zoo", "__version__"]

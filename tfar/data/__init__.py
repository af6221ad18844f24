"""tf.data + TFDS pipelines for tfar: image datasets (and audio, when present)."""

from tfar.data.image_folder import image_folder
from tfar.data.images import DATASETS, dataset_info, load

__all__ = ["DATASETS", "dataset_info", "image_folder", "load"]

try:
    from tfar.data.audio import audio_dataset, mu_law_decode, mu_law_encode
except ImportError:
    pass
else:
    __all__ += ["audio_dataset", "mu_law_decode", "mu_law_encode"]

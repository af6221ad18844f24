"""tfar models: keras.Model subclasses sharing the AutoregressiveModel contract."""

from tfar.models.base import AutoregressiveModel
from tfar.models.pixelcnn import PixelCNN

__all__ = ["AutoregressiveModel", "PixelCNN"]

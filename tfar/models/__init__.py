"""tfar models: keras.Model subclasses sharing the AutoregressiveModel contract."""

from tfar.models.base import AutoregressiveModel
from tfar.models.gated_pixelcnn import GatedPixelCNN
from tfar.models.pixelcnn import PixelCNN
from tfar.models.pixelcnn_pp import PixelCNNPlusPlus
from tfar.models.pixelrnn import DiagonalBiLSTM, RowLSTM
from tfar.models.vocoder import WaveNetVocoder
from tfar.models.wavenet import WaveNet

__all__ = ["AutoregressiveModel", "DiagonalBiLSTM", "GatedPixelCNN", "PixelCNN", "PixelCNNPlusPlus", "RowLSTM", "WaveNet",
           "WaveNetVocoder"]

"""Keras layers of the autoregressive families, one layer per file."""

import warnings

from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from tfar.layers.gated_block import GatedBlock
from tfar.layers.gated_resnet import GatedResNet, concat_elu
from tfar.layers.diagonal_bilstm import DiagonalBiLSTMLayer
from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask
from tfar.layers.row_lstm import RowLSTMLayer
from tfar.layers.shifted_conv2d import ShiftedConv2D, down_shift, right_shift
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.layers.skew import skew, unskew

__all__ = [
    "CausalDilatedConv1D", "DiagonalBiLSTMLayer", "GatedBlock", "GatedResNet", "MaskedConv2D", "RowLSTMLayer",
    "ShiftedConv2D", "ShiftedConv2DTranspose", "causal_mask", "concat_elu", "down_shift", "right_shift", "skew",
    "unskew",
]

# The layers' first names, which were also the names of the models tfar.models.RowLSTM / DiagonalBiLSTM.
_DEPRECATED = {"RowLSTM": RowLSTMLayer, "DiagonalBiLSTM": DiagonalBiLSTMLayer}


def __getattr__(name):
    if name in _DEPRECATED:
        new = _DEPRECATED[name].__name__
        warnings.warn(
            f"tfar.layers.{name} is deprecated; use tfar.layers.{new} (tfar.models.{name} is the model)",
            DeprecationWarning, stacklevel=2,
        )
        return _DEPRECATED[name]
    raise AttributeError(f"module 'tfar.layers' has no attribute {name!r}")

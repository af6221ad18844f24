"""Keras layers of the autoregressive families, one layer per file."""

from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from tfar.layers.gated_block import GatedBlock
from tfar.layers.gated_resnet import GatedResNet, concat_elu
from tfar.layers.diagonal_bilstm import DiagonalBiLSTM
from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask
from tfar.layers.row_lstm import RowLSTM
from tfar.layers.shifted_conv2d import ShiftedConv2D, down_shift, right_shift
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.layers.skew import skew, unskew

__all__ = [
    "CausalDilatedConv1D", "DiagonalBiLSTM", "GatedBlock", "GatedResNet", "MaskedConv2D", "RowLSTM", "ShiftedConv2D",
    "ShiftedConv2DTranspose", "causal_mask", "concat_elu", "down_shift", "right_shift", "skew", "unskew",
]

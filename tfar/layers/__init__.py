"""Keras layers of the autoregressive families, one layer per file."""

from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from tfar.layers.gated_block import GatedBlock
from tfar.layers.diagonal_bilstm import DiagonalBiLSTM
from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask
from tfar.layers.row_lstm import RowLSTM
from tfar.layers.skew import skew, unskew

__all__ = [
    "CausalDilatedConv1D", "DiagonalBiLSTM", "GatedBlock", "MaskedConv2D", "RowLSTM", "causal_mask", "skew", "unskew",
]

"""Keras layers of the autoregressive families, one layer per file."""

from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from tfar.layers.gated_block import GatedBlock
from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask

__all__ = ["CausalDilatedConv1D", "GatedBlock", "MaskedConv2D", "causal_mask"]

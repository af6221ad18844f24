"""Keras layers of the autoregressive families, one layer per file."""

from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask

__all__ = ["MaskedConv2D", "causal_mask"]

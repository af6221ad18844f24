"""Down-shifted and down-right-shifted transposed convolutions of PixelCNN++ (Salimans et al.
2017, arXiv:1701.05517, sec. 2.4): the upsampling half of the U-net.

A VALID transposed convolution with stride s maps an input pixel (r, c) to the output block
rows ``s r .. s r + kh - 1`` (and columns likewise); keeping the first ``s H`` rows and

    "down":       columns (kw-1)/2 .. (kw-1)/2 + s W - 1  (centred),
    "down_right": columns 0 .. s W - 1,

means output (i, j) only receives input pixels at or above-left of (i / s, j / s), which
preserves the causal order set up by the shifted convolutions that produced the input.
When ``kh <= s`` (and ``kw <= s`` for "down_right") the layer runs a "same" transposed
convolution instead, which keeps the same rows without a crop (crops are slow to
differentiate on CPU); for "down" its columns start at 0 instead of being centred, a sideways
move within the rows above that leaves the causal order unchanged.
"""

import keras
from keras import ops

from tfar.layers.shifted_conv2d import ShiftedConvBase


@keras.saving.register_keras_serializable(package="tfar")
class ShiftedConv2DTranspose(ShiftedConvBase):
    """Transposed conv that upsamples by ``strides`` and keeps the shifted causal footprint.

    Args:
      filters: output channels.
      kernel_size: (kh, kw); PixelCNN++ uses (2, 3) for "down" and (2, 2) for "down_right".
      shift: "down" or "down_right".
      strides: upsampling factor, 1 or 2.
      weight_norm: kernel = g * v / ||v|| per output channel (Salimans & Kingma 2016).
      init_scale: output standard deviation after data-dependent initialisation.
    """

    _output_channel_axis = 2  # keras.ops.conv_transpose kernels are (kh, kw, out_channels, in_channels)

    def __init__(self, filters, kernel_size=(2, 3), shift="down", strides=2, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", weight_norm=False, init_scale=1.0,
                 **kwargs):
        super().__init__(filters, kernel_size, shift, strides, use_bias, kernel_initializer, bias_initializer,
                         weight_norm, init_scale, **kwargs)

    def _kernel_shape(self, in_channels):
        # keras.ops.conv_transpose kernels are (kh, kw, out_channels, in_channels)
        return (*self.kernel_size, self.filters, in_channels)

    def call(self, inputs):
        kernel = self._kernel_for(inputs.dtype)
        if self.kernel_size[0] <= self.strides and (self.shift == "down" or self.kernel_size[1] <= self.strides):
            # "same" gives exactly the kept window without a crop (whose gradient is slow on CPU);
            # for "down" it keeps columns from 0 rather than centred, which only moves the
            # footprint sideways inside the rows above: the causal order is unchanged
            return self._add_bias(ops.conv_transpose(inputs, kernel, strides=self.strides, padding="same"))
        outputs = ops.conv_transpose(inputs, kernel, strides=self.strides, padding="valid")
        h, w = inputs.shape[1], inputs.shape[2]
        if h is None or w is None:
            h, w = ops.shape(inputs)[1], ops.shape(inputs)[2]
        left = (self.kernel_size[1] - 1) // 2 if self.shift == "down" else 0
        return self._add_bias(outputs[:, : h * self.strides, left : left + w * self.strides])

    # incremental evaluation (cached generation); the PixelCNN++ kernels run the "same" path above
    def _check_incremental(self):
        if self.kernel_size[0] != self.strides or (self.shift == "down_right" and self.kernel_size[1] != self.strides):
            raise ValueError(f"{self.name}: incremental evaluation needs kernel rows == strides (and columns for "
                             f"'down_right'), got kernel_size={self.kernel_size}, strides={self.strides}")

    def call_row(self, row, parity):
        """Output row ``s R + parity`` [B, s W, filters] of ``call`` from input row R [B, W, C_in] alone.

        With kh == s every output row receives exactly one kernel row (``parity``, a scalar
        tensor in [0, s)); the columns are those of ``call`` before any crop.
        """
        self._check_incremental()
        kernel = ops.take(self._kernel_for(row.dtype), parity, axis=0)[None]  # [1, kw, filters, C_in]
        outputs = ops.conv_transpose(row[:, None], kernel, strides=(1, self.strides), padding="same")
        return self._add_bias(outputs[:, 0])

    def call_pixel(self, value, row_parity, column_parity):
        """Output pixel (s R + row_parity, s C + column_parity) [B, filters] of a "down_right" layer from
        input pixel (R, C) [B, C_in]: with kh == kw == s it is the only input that pixel receives."""
        self._check_incremental()
        if self.shift != "down_right":
            raise ValueError(f"{self.name}: call_pixel needs shift='down_right', got {self.shift!r}")
        kh, kw = self.kernel_size
        kernel = ops.reshape(self._kernel_for(value.dtype), [kh * kw, self.filters, -1])
        tap = ops.take(kernel, row_parity * kw + column_parity, axis=0)  # [filters, C_in]
        return self._add_bias(ops.matmul(value, ops.transpose(tap)))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else h * s, None if w is None else w * s, self.filters)

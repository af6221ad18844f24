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
    """

    def __init__(self, filters, kernel_size=(2, 3), shift="down", strides=2, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, shift, strides, use_bias, kernel_initializer, bias_initializer,
                         **kwargs)

    def _kernel_shape(self, in_channels):
        # keras.ops.conv_transpose kernels are (kh, kw, out_channels, in_channels)
        return (*self.kernel_size, self.filters, in_channels)

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
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

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else h * s, None if w is None else w * s, self.filters)

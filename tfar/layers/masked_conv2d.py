"""Masked 2-D convolution of PixelCNN (van den Oord et al. 2016, arXiv:1601.06759, sec. 3.5).

The kernel is multiplied by a fixed binary mask in every forward pass,

    y = conv2d(x, W * M),

so output pixel (i, j) only sees input pixels that come earlier in raster order.
With ``color_channels=3`` the input and output channels are split into three
contiguous groups (R, G, B). At the centre tap an output group ``g`` sees input
group ``g'`` when ``g' < g`` (mask "A", used by the first layer) or ``g' <= g``
(mask "B", every later layer), which gives the R -> G -> B order within a pixel.

Cached generation (Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models", arXiv:1704.06001): a masked convolution's output at pixel
(i, j) reads only input pixels at or before (i, j) in raster order, so it can be
computed as soon as its input at (i, j) is known. The layer then keeps the input rows
its kernel still needs, ``rows`` [B, kh // 2 + 1, W + 2 (kw // 2), C_in], a ring in
which image row i lives in slot ``i mod (kh // 2 + 1)`` (zero columns pad both sides).
``write_rows`` stores one input pixel and ``output_at`` computes one output pixel from
the unmasked taps only, so a step costs O(kernel taps) whatever the image size.
Slots of rows above the image still hold zeros; the current row's slot holds stale
values right of the current pixel, which are never read.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfar.arg_checks import check_color_channels, int_pair, positive_multiple

MASK_TYPES = ("A", "B")


def causal_mask(kernel_size, in_channels, out_channels, mask_type="B", color_channels=1):
    """The binary mask ``M`` of shape (kh, kw, in_channels, out_channels) as float32.

    ``kernel_size`` is an int or a (kh, kw) pair of odd numbers. Rows above the centre
    are fully visible, the centre row up to (not including) the centre column, and the
    centre tap follows the colour-group rule of the module docstring.
    """
    kh, kw = _pair(kernel_size)
    mask = np.zeros((kh, kw, in_channels, out_channels), dtype=np.float32)
    ch, cw = kh // 2, kw // 2
    mask[:ch] = 1.0
    mask[ch, :cw] = 1.0
    in_group = np.arange(in_channels) // (in_channels // color_channels)
    out_group = np.arange(out_channels) // (out_channels // color_channels)
    if mask_type == "A":
        centre = in_group[:, None] < out_group[None, :]
    else:
        centre = in_group[:, None] <= out_group[None, :]
    mask[ch, cw] = centre.astype(np.float32)
    return mask


def _pair(kernel_size):
    return int_pair("kernel_size", kernel_size, "an odd int or a pair of odd ints")


def write_at(buffer, index, values):
    """``buffer`` [B, *dims, C] with ``values`` [B, C] written at ``index`` (one scalar per dim) of every example.

    One scatter: XLA updates the buffer in place inside a compiled loop; plain TF copies it.
    """
    batch = tf.shape(values)[0]
    index = tf.stack([tf.range(batch)] + [tf.fill([batch], i) for i in index], axis=1)
    return tf.tensor_scatter_nd_update(buffer, index, tf.cast(values, buffer.dtype))


def check_masked_conv_args(kernel_size, mask_type, color_channels):
    """Raise ValueError for an even kernel, an unknown mask type or colour count."""
    kh, kw = _pair(kernel_size)
    if kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive so the mask has a centre, got {kernel_size!r}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
    check_color_channels(color_channels)
    if mask_type == "A" and color_channels == 1 and (kh, kw) == (1, 1):
        raise ValueError(
            "a 1x1 convolution with mask 'A' and color_channels=1 has an all-zero kernel; "
            "use mask 'B' or a larger kernel"
        )


def check_colour_groups(name, value, color_channels, what="channels"):
    """``value`` (a width such as ``filters``) as a positive int that splits into ``color_channels`` equal groups."""
    return positive_multiple(
        name, value, color_channels,
        f"color_channels={color_channels} so that every colour group gets the same number of {what}",
    )


@keras.saving.register_keras_serializable(package="tfar")
class MaskedConv2D(keras.layers.Layer):
    """Conv2D whose kernel is masked for raster-order (and R -> G -> B) causality.

    Args:
      filters: output channels; divisible by ``color_channels``.
      kernel_size: odd int or pair of odd ints.
      mask_type: "A" (excludes the current sub-pixel) or "B" (includes it).
      color_channels: 1 for grey, 3 for RGB colour groups.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        color_channels=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_masked_conv_args(kernel_size, mask_type, color_channels)
        self.filters = check_colour_groups("filters", filters, color_channels)
        self.kernel_size = _pair(kernel_size)
        self.mask_type = mask_type
        self.color_channels = int(color_channels)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None or in_channels % self.color_channels:
            raise ValueError(
                f"{self.name}: input channels ({in_channels}) must be known and divisible by "
                f"color_channels={self.color_channels}"
            )
        shape = (*self.kernel_size, in_channels, self.filters)
        self.mask = causal_mask(self.kernel_size, in_channels, self.filters, self.mask_type, self.color_channels)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer=self.kernel_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def call(self, inputs):
        kernel = self.kernel * ops.cast(self.mask, self.kernel.dtype)
        outputs = ops.conv(inputs, ops.cast(kernel, inputs.dtype), strides=1, padding="same")
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs

    # ------------------------------------------------------------ cached step
    def initial_rows(self, batch_size, width):
        """Zero ring of input rows [B, kh // 2 + 1, width + 2 (kw // 2), C_in] for :meth:`output_at`."""
        kh, kw = self.kernel_size
        return tf.zeros([batch_size, kh // 2 + 1, width + 2 * (kw // 2), self.kernel.shape[2]], self.compute_dtype)

    def write_rows(self, rows, row, col, values):
        """``rows`` with the input ``values`` [B, C_in] of image pixel (``row``, ``col``) stored."""
        return write_at(rows, [row % rows.shape[1], col + self.kernel_size[1] // 2], values)

    def output_at(self, rows, row, col):
        """Output [B, filters] at image pixel (``row``, ``col``), equal to ``call`` on the full input there.

        ``rows`` must hold the input at every pixel the masked kernel sees: rows
        ``row - kh//2 .. row - 1`` and row ``row`` up to column ``col`` (the centre tap's
        colour groups follow the mask, so later sub-pixels of (row, col) may be unset).
        """
        (kh, kw), batch = self.kernel_size, tf.shape(rows)[0]
        above, half = kh // 2, kw // 2
        window = tf.slice(rows, tf.stack([0, 0, col, 0]), [-1, above + 1, kw, -1])  # columns col-half .. col+half
        # slots of rows row-above .. row; row + 1 == row - above (mod above + 1) keeps the operand
        # non-negative: tf2onnx lowers floormod to a truncating division, wrong for negative operands
        window = tf.gather(window, (row + 1 + tf.range(above + 1)) % (above + 1), axis=1)
        taps = tf.concat([tf.reshape(window[:, :above], [batch, -1]),
                          tf.reshape(window[:, above, : half + 1], [batch, -1])], axis=-1)
        return self._taps_matmul(taps)

    def pixel_call(self, x):
        """A 1 x 1 layer on one pixel: [B, C_in] -> [B, filters]."""
        if self.kernel_size != (1, 1):
            raise ValueError(f"{self.name}: pixel_call needs a 1 x 1 kernel, got {self.kernel_size}; use output_at")
        return self._taps_matmul(x)

    def _taps_matmul(self, taps):
        """[B, taps * C_in] (rows above, then row ``row`` up to the centre) times the unmasked kernel taps."""
        (kh, kw), filters = self.kernel_size, self.filters
        kernel = self.kernel * ops.cast(self.mask, self.kernel.dtype)
        kernel = tf.concat([tf.reshape(kernel[: kh // 2], [-1, filters]),
                            tf.reshape(kernel[kh // 2, : kw // 2 + 1], [-1, filters])], axis=0)
        outputs = tf.matmul(taps, tf.cast(kernel, taps.dtype))
        if self.bias is not None:
            outputs = outputs + tf.cast(self.bias, outputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            mask_type=self.mask_type,
            color_channels=self.color_channels,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config

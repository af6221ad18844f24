"""Row LSTM layer of PixelRNN (van den Oord et al. 2016, arXiv:1601.06759, sec. 3.1).

The image is processed one row at a time. For row ``i`` (all columns at once)

    [o, f, i, g]_i = sigma(K_ss (*) h_{i-1} + K_is (*) x_i)
    c_i = f . c_{i-1} + i . g
    h_i = o . tanh(c_i)

where ``sigma`` is the logistic sigmoid for o, f, i and tanh for g, ``K_is (*) x`` is a
1 x k convolution along the row with mask "B" (computed for every row in one
convolution) and ``K_ss (*) h_{i-1}`` is an unmasked 1 x k convolution over the previous
row's hidden state. The receptive field is the triangle above the pixel.

Colour groups (``color_channels=3``): every 4 * units map is laid out colour-major,
``[R: i f o g | G: i f o g | B: i f o g]`` (each block units / 3 wide), so the
contiguous thirds used by :func:`tfar.layers.masked_conv2d.causal_mask` are colour
groups and the state channels come out as ``[R | G | B]``. Only the input-to-state
convolution sees the current row and needs the mask; the state-to-state convolution
reads row ``i - 1``, which precedes every sub-pixel of row ``i``, so it may mix all
groups. The cell update is elementwise, so it never mixes groups.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfar.arg_checks import check_color_channels, odd_positive_int
from tfar.layers.masked_conv2d import causal_mask, check_colour_groups

GATES = ("i", "f", "o", "g")


def check_lstm_args(units, color_channels):
    """(units, color_channels) as ints, or a ValueError for a bad width or colour count."""
    color_channels = check_color_channels(color_channels)
    return check_colour_groups("units", units, color_channels, what="state channels"), color_channels


def gate_bias(units, color_channels, unit_forget_bias):
    """Initial bias [4 * units] in the colour-major gate layout (1 on f if ``unit_forget_bias``)."""
    bias = np.zeros((color_channels, len(GATES), units // color_channels), np.float32)
    if unit_forget_bias:
        bias[:, GATES.index("f")] = 1.0
    return bias.reshape(-1)


def lstm_cell(z, c_prev, color_channels):
    """One LSTM update from pre-activations ``z`` [..., 4 * units] (colour-major layout).

    Returns ``(h, c)``, each [..., units] with channels ``[R | G | B]``.
    """
    units = z.shape[-1] // 4
    lead = tf.shape(z)[:-1]
    grouped = tf.reshape(z, tf.concat([lead, [color_channels, len(GATES), units // color_channels]], 0))
    i, f, o, g = [tf.reshape(t, tf.concat([lead, [units]], 0)) for t in tf.unstack(grouped, axis=-2)]
    c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
    h = tf.sigmoid(o) * tf.tanh(c)
    return h, c


class GroupedLSTMLayer(keras.layers.Layer):
    """What the PixelRNN LSTM layers share: their arguments, input check, gate bias and config.

    Not a layer of its own: :class:`RowLSTMLayer` and
    :class:`tfar.layers.diagonal_bilstm.DiagonalBiLSTMLayer` add their weights and recurrence.
    """

    def __init__(
        self,
        units,
        color_channels=1,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.color_channels = check_lstm_args(units, color_channels)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)

    def _input_channels(self, input_shape):
        """The known input channel count that splits into the colour groups, or a ValueError."""
        in_channels = input_shape[-1]
        if in_channels is None or in_channels % self.color_channels:
            raise ValueError(
                f"{self.name}: input channels ({in_channels}) must be known and divisible by "
                f"color_channels={self.color_channels}"
            )
        return in_channels

    def _bias_initializer(self):
        """Initial gate bias [4 * units] (see :func:`gate_bias`)."""
        return keras.initializers.Constant(gate_bias(self.units, self.color_channels, self.unit_forget_bias))

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            color_channels=self.color_channels,
            unit_forget_bias=self.unit_forget_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="tfar", name="RowLSTMLayer")
class RowLSTMLayer(GroupedLSTMLayer):
    """Row LSTM over a [batch, H, W, channels] map; returns hidden states [batch, H, W, units].

    Args:
      units: state width h per pixel; divisible by ``color_channels``.
      kernel_size: odd width k of both 1 x k convolutions.
      color_channels: 1 for grey, 3 for R -> G -> B colour groups.
      unit_forget_bias: start the forget-gate bias at 1.
    """

    def __init__(
        self,
        units,
        kernel_size=3,
        color_channels=1,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(units, color_channels, unit_forget_bias, kernel_initializer, recurrent_initializer, **kwargs)
        self.kernel_size = odd_positive_int("kernel_size", kernel_size, " (the 1 x k kernel needs a centre)")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.name}: expected a [batch, height, width, channels] input, got {input_shape}")
        in_channels = self._input_channels(input_shape)
        gates = 4 * self.units
        self.mask = causal_mask((1, self.kernel_size), in_channels, gates, "B", self.color_channels)
        self.kernel = self.add_weight(
            name="kernel", shape=(1, self.kernel_size, in_channels, gates), initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.kernel_size, self.units, gates),
            initializer=self.recurrent_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(gates,), initializer=self._bias_initializer())

    def input_to_state(self, inputs):
        """Masked 1 x k convolution for every row at once: [B, H, W, C] -> [B, H, W, 4u]."""
        dtype = inputs.dtype
        kernel = ops.cast(self.kernel * ops.cast(self.mask, self.kernel.dtype), dtype)
        return ops.conv(inputs, kernel, strides=1, padding="same") + ops.cast(self.bias, dtype)

    def row_step(self, z_row, h_prev, c_prev):
        """One row: gate inputs ``z_row`` [B, W, 4u] and the previous row's (h, c) -> (h, c) [B, W, u]."""
        k, r = self.kernel_size, self.kernel_size // 2
        # the 1 x k state-to-state convolution as one matmul over the k neighbours j - r .. j + r
        recurrent = ops.cast(ops.reshape(self.recurrent_kernel, (k * self.units, 4 * self.units)), z_row.dtype)
        width = tf.shape(h_prev)[1]
        padded = tf.pad(h_prev, [[0, 0], [r, r], [0, 0]])
        taps = tf.concat([padded[:, t:t + width] for t in range(k)], axis=-1)
        return lstm_cell(z_row + tf.einsum("bwi,ig->bwg", taps, recurrent), c_prev, self.color_channels)

    def pixel_step(self, inputs, h_above, c_above):
        """One pixel (i, j) for a cached sampling step: (h, c), each [B, u].

        ``inputs`` [B, k // 2 + 1, C_in] is the layer input at columns j-k//2 .. j of row i
        (the taps the masked 1 x k kernel reads), ``h_above`` [B, k, u] the hidden states of
        row i - 1 at columns j-k//2 .. j+k//2 and ``c_above`` [B, u] its cell state at column
        j (zeros outside the image). Both convolutions run as one matrix product.
        """
        half, batch = self.kernel_size // 2, tf.shape(inputs)[0]
        kernel = (self.kernel * ops.cast(self.mask, self.kernel.dtype))[0, : half + 1]
        kernel = tf.concat([tf.reshape(kernel, [-1, 4 * self.units]),
                            tf.reshape(self.recurrent_kernel, [-1, 4 * self.units])], axis=0)
        taps = tf.concat([tf.reshape(inputs, [batch, -1]), tf.reshape(tf.cast(h_above, inputs.dtype), [batch, -1])], -1)
        z = tf.matmul(taps, tf.cast(kernel, taps.dtype)) + tf.cast(self.bias, taps.dtype)
        return lstm_cell(z, tf.cast(c_above, z.dtype), self.color_channels)

    def call(self, inputs):
        rows = tf.transpose(self.input_to_state(inputs), [1, 0, 2, 3])  # [H, B, W, 4u]
        zeros = tf.zeros(tf.concat([tf.shape(rows)[1:3], [self.units]], 0), rows.dtype)
        hidden, _ = tf.scan(lambda carry, z_row: self.row_step(z_row, *carry), rows, initializer=(zeros, zeros))
        return tf.transpose(hidden, [1, 0, 2, 3])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size)
        return config

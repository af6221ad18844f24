"""Causal dilated 1-D convolution of WaveNet (van den Oord et al. 2016, arXiv:1609.03499, sec. 2.1).

With kernel W of k taps and dilation d, the input is padded on the left with
(k - 1) * d zeros so that

    y[t] = b + sum_{j=0}^{k-1} W[j] x[t - (k - 1 - j) d],

i.e. output t sees inputs t, t - d, ..., t - (k - 1) d and never the future. The
whole sequence is computed in parallel (teacher forcing); :meth:`step` computes
one output from the k taps for cached generation.

For generation the past inputs live in a ring buffer of (k - 1) * d entries
(:func:`ring_buffer_slots`): input t goes to slot t mod ((k - 1) d), where it
overwrites input t - (k - 1) d, the oldest tap, after that tap has been read. Each
step reads k - 1 slots and writes one, whatever the dilation; an unwritten slot
holds the zero padding before t = 0.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfar.arg_checks import positive_int


@keras.saving.register_keras_serializable(package="tfar")
class CausalDilatedConv1D(keras.layers.Layer):
    """Conv1D over [batch, time, channels] with left padding (kernel_size - 1) * dilation_rate.

    Args:
      filters: output channels.
      kernel_size: taps k.
      dilation_rate: spacing d between taps.
      use_bias: add a bias.
    """

    def __init__(self, filters, kernel_size, dilation_rate=1, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int("filters", filters)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.dilation_rate = positive_int("dilation_rate", dilation_rate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def padding(self):
        """Left padding (kernel_size - 1) * dilation_rate = the number of past inputs seen."""
        return (self.kernel_size - 1) * self.dilation_rate

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(f"{self.name}: the number of input channels must be known, got shape {input_shape}")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, in_channels, self.filters), initializer=self.kernel_initializer
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def call(self, inputs):
        padded = ops.pad(inputs, [[0, 0], [self.padding, 0], [0, 0]])
        outputs = ops.conv(
            padded, ops.cast(self.kernel, inputs.dtype), strides=1, padding="valid", dilation_rate=self.dilation_rate
        )
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs

    def step(self, taps):
        """One output [batch, filters] from taps [batch, kernel_size, in] = x[t-(k-1)d], ..., x[t]."""
        outputs = ops.einsum("bki,kio->bo", taps, ops.cast(self.kernel, taps.dtype))
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            dilation_rate=self.dilation_rate,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


def ring_buffer_slots(position, kernel_size, dilations):
    """Slots of several causal convolutions' ring buffers packed one after another.

    Convolution i (dilation d_i) owns rows [o_i, o_i + L_i) of the packed buffer,
    L_i = (kernel_size - 1) d_i. At step ``position`` = t it reads its past taps
    x[t - (k - 1) d_i], ..., x[t - d_i] from rows o_i + (t - m d_i) mod L_i, m = k-1 .. 1,
    and writes x[t] to row o_i + t mod L_i.

    Returns (read [n * (k - 1)] int32 in (convolution, tap) order, write [n] int32).
    """
    lengths = [(kernel_size - 1) * d for d in dilations]
    offsets = np.cumsum([0] + lengths[:-1])
    lags = np.array([[m * d for m in range(kernel_size - 1, 0, -1)] for d in dilations], np.int32)  # [n, k-1]
    lengths = tf.constant(lengths, tf.int32)
    offsets = tf.constant(offsets, tf.int32)
    read = offsets[:, None] + tf.math.floormod(position - tf.constant(lags), lengths[:, None])
    write = offsets + tf.math.floormod(position, lengths)
    return tf.reshape(read, [-1]), write

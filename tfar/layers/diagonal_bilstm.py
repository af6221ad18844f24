"""Diagonal BiLSTM layer of PixelRNN (van den Oord et al. 2016, arXiv:1601.06759, sec. 3.2).

Each direction skews the map (row ``i`` shifted right by ``i``, see :mod:`tfar.layers.skew`)
so that the diagonals become columns, then runs an LSTM column by column:

    [o, f, i, g]_j = sigma(K_ss (*) h_{j-1} + K_is (*) x_j)
    c_j = f . c_{j-1} + i . g,      h_j = o . tanh(c_j)

``K_is`` is a 1 x 1 convolution with mask "B"; ``K_ss`` is a 2 x 1 convolution over the
previous column, i.e. skewed position (r, j) reads (r - 1, j - 1) and (r, j - 1) -- the
pixel above and the pixel to the left in the unskewed image. The state is unskewed back.

The left-to-right direction sees the quadrant above-left of a pixel. The right-to-left
direction runs the same procedure on the horizontally mirrored map and would see the
current row to the right; its output is therefore shifted down by one row (row 0 gets
zeros) before the two are added, so the sum depends on every earlier pixel and no later one.

Colour groups follow :mod:`tfar.layers.row_lstm`: gate maps are colour-major and the
state is ``[R | G | B]``; only the input-to-state convolution is masked.

Context completion (tfar): when the input map comes from a mask-"A" convolution, no
feature of row ``i - 1`` carries the last pixel of that row, so with the two directions
above the output at ``(i, j)`` never sees pixel ``(i - 1, W - 1)`` unless it lies inside
the first convolution's window. ``call(inputs, row_inputs=...)`` closes this gap: the
optional ``row_inputs`` (e.g. the image itself) feed only the right-to-left direction,
through an unmasked 1 x 1 convolution. That is causal because this direction's output
is shifted down one row: what row ``i`` receives from it depends on rows ``< i`` only.

``input_to_state`` and ``scan_row`` expose the same computation one image row at a time.
A cached sampling step uses ``forward_pixel`` (the left-to-right direction at one pixel,
from the pixel above and the one to the left) and ``backward_row`` (the right-to-left
direction on a finished row, which only the next row reads).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfar.layers.masked_conv2d import causal_mask
from tfar.layers.row_lstm import GroupedLSTMLayer, lstm_cell
from tfar.layers.skew import skew, unskew

DIRECTIONS = ("forward", "backward")


def mirror(x, axis):
    """Reverse ``x`` along a static ``axis`` (a gather, which also exports to ONNX inside control flow)."""
    size = x.shape[axis]
    if size is None:
        raise ValueError(f"mirror needs a static size along axis {axis}, got shape {tuple(x.shape)}")
    return tf.gather(x, tf.constant(np.arange(size)[::-1], tf.int32), axis=axis)


def shift_down(x):
    """[B, H, W, C] -> the same map moved down one row, with zeros in row 0."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="tfar", name="DiagonalBiLSTMLayer")
class DiagonalBiLSTMLayer(GroupedLSTMLayer):
    """Bidirectional diagonal LSTM over [batch, H, W, channels]; returns [batch, H, W, units].

    Args:
      units: state width h per pixel and direction; divisible by ``color_channels``.
      color_channels: 1 for grey, 3 for R -> G -> B colour groups.
      unit_forget_bias: start the forget-gate bias at 1.
    """

    def build(self, inputs_shape, row_inputs_shape=None):
        input_shape = inputs_shape
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"{self.name}: expected a [batch, height, width, channels] input with static height and width, "
                f"got {input_shape}"
            )
        in_channels = self._input_channels(input_shape)
        gates = 4 * self.units
        self.mask = causal_mask(1, in_channels, gates, "B", self.color_channels)
        bias = self._bias_initializer()
        self.kernels, self.recurrent_kernels, self.biases = [], [], []
        for direction in DIRECTIONS:
            self.kernels.append(self.add_weight(
                name=f"{direction}_kernel", shape=(1, 1, in_channels, gates), initializer=self.kernel_initializer
            ))
            # tap 0: the row above in the previous column, tap 1: the same row in the previous column
            self.recurrent_kernels.append(self.add_weight(
                name=f"{direction}_recurrent_kernel", shape=(2, self.units, gates),
                initializer=self.recurrent_initializer,
            ))
            self.biases.append(self.add_weight(name=f"{direction}_bias", shape=(gates,), initializer=bias))
        self.row_kernel = None
        if row_inputs_shape is not None:
            if tuple(row_inputs_shape[:3])[1:] != tuple(input_shape[1:3]) or row_inputs_shape[-1] is None:
                raise ValueError(f"{self.name}: row_inputs shape {row_inputs_shape} must match the inputs' "
                                 f"height and width {tuple(input_shape[1:3])} and have known channels")
            self.row_kernel = self.add_weight(
                name="backward_row_kernel", shape=(1, 1, row_inputs_shape[-1], gates),
                initializer=self.kernel_initializer,
            )

    def input_to_state(self, inputs, index, row_inputs=None):
        """Gate inputs [B, H, W, 4u] of direction ``index`` (0: left-to-right, 1: right-to-left).

        A 1 x 1 masked convolution, so it commutes with mirroring the map.
        """
        dtype = inputs.dtype
        kernel = ops.cast(self.kernels[index] * ops.cast(self.mask, self.kernels[index].dtype), dtype)
        z = ops.conv(inputs, kernel, strides=1, padding="same") + ops.cast(self.biases[index], dtype)
        if row_inputs is not None:
            z = z + ops.conv(ops.cast(row_inputs, dtype), ops.cast(self.row_kernel, dtype), strides=1, padding="same")
        return z

    def _recurrent(self, index, dtype):
        # [2u, 4u]: rows 0..u-1 act on the pixel above, rows u..2u-1 on the previous pixel of the row
        return ops.reshape(ops.cast(self.recurrent_kernels[index], dtype), (2 * self.units, -1))

    def scan_row(self, z_row, h_above, index):
        """One image row of direction ``index``, in that direction's own left-to-right order.

        ``z_row`` [B, W, 4u] are its gate inputs and ``h_above`` [B, W, u] the hidden states of the
        row above (the cell state only runs along the row). Returns h [B, W, u]. Mirror both
        inputs and the output for the right-to-left direction.
        """
        recurrent = self._recurrent(index, z_row.dtype)
        zeros = tf.zeros_like(h_above[:, 0])

        def pixel_step(carry, elems):
            h_left, c_left = carry
            z, above = elems
            pre = z + tf.einsum("bi,ig->bg", tf.concat([above, h_left], axis=-1), recurrent)
            return lstm_cell(pre, c_left, self.color_channels)

        elems = (tf.transpose(z_row, [1, 0, 2]), tf.transpose(h_above, [1, 0, 2]))
        hidden, _ = tf.scan(pixel_step, elems, initializer=(zeros, zeros))
        return tf.transpose(hidden, [1, 0, 2])

    def forward_pixel(self, inputs, h_above, h_left, c_left):
        """Left-to-right direction at one pixel (i, j): (h, c), each [B, u].

        ``inputs`` [B, C_in] is the layer input at (i, j), ``h_above`` [B, u] the hidden
        state at (i - 1, j), ``h_left`` and ``c_left`` [B, u] those at (i, j - 1) (zeros
        outside the image). The input and state convolutions run as one matrix product.
        """
        kernel = (self.kernels[0] * ops.cast(self.mask, self.kernels[0].dtype))[0, 0]
        kernel = tf.concat([kernel, tf.reshape(self.recurrent_kernels[0], [-1, 4 * self.units])], axis=0)
        dtype = inputs.dtype
        taps = tf.concat([inputs, tf.cast(h_above, dtype), tf.cast(h_left, dtype)], axis=-1)
        z = tf.matmul(taps, tf.cast(kernel, dtype)) + tf.cast(self.biases[0], dtype)
        return lstm_cell(z, tf.cast(c_left, dtype), self.color_channels)

    def backward_row(self, inputs, h_above, row_inputs=None):
        """Right-to-left direction on one finished row i: hidden states [B, W, u].

        ``inputs`` [B, W, C_in] is the layer input of row i, ``h_above`` [B, W, u] this
        direction's hidden states of row i - 1, ``row_inputs`` [B, W, C_row] the optional
        extra inputs of the row (see the module docstring). Not shifted: the layer output
        at row i + 1 adds it.
        """
        z = self.input_to_state(inputs[:, None], 1, None if row_inputs is None else row_inputs[:, None])[:, 0]
        return mirror(self.scan_row(mirror(z, 1), mirror(tf.cast(h_above, z.dtype), 1), 1), 1)

    def _direction(self, inputs, index, row_inputs=None):
        """Left-to-right diagonal LSTM over ``inputs`` with the weights of direction ``index``."""
        dtype = inputs.dtype
        z = self.input_to_state(inputs, index, row_inputs)
        width = inputs.shape[2]
        # skewing after the bias leaves zeros outside the image, which keep h = c = 0 there
        columns = tf.transpose(skew(z), [2, 0, 1, 3])  # [W + H - 1, B, H, 4u]
        recurrent = self._recurrent(index, dtype)
        zeros = tf.zeros(tf.concat([tf.shape(columns)[1:3], [self.units]], 0), dtype)

        def column_step(carry, z_column):
            h_prev, c_prev = carry
            h_above = tf.pad(h_prev, [[0, 0], [1, 0], [0, 0]])[:, :-1]
            neighbours = tf.concat([h_above, h_prev], axis=-1)  # [B, H, 2u]
            pre = z_column + tf.einsum("bri,ig->brg", neighbours, recurrent)
            return lstm_cell(pre, c_prev, self.color_channels)

        hidden, _ = tf.scan(column_step, columns, initializer=(zeros, zeros))
        return unskew(tf.transpose(hidden, [1, 2, 0, 3]), width)

    def call(self, inputs, row_inputs=None):
        if (row_inputs is None) != (self.row_kernel is None):
            raise ValueError(f"{self.name}: row_inputs must be passed on every call or on none "
                             f"(built {'with' if self.row_kernel is not None else 'without'} them)")
        forward = self._direction(inputs, 0)
        mirrored_rows = None if row_inputs is None else mirror(row_inputs, 2)
        backward = mirror(self._direction(mirror(inputs, 2), 1, mirrored_rows), 2)
        return forward + shift_down(backward)

    def compute_output_shape(self, inputs_shape, row_inputs_shape=None):
        return (*inputs_shape[:-1], self.units)

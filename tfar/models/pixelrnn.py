"""PixelRNN: Row LSTM and Diagonal BiLSTM image models (van den Oord et al. 2016, arXiv:1601.06759, sec. 3).

    x -> MaskedConv2D(2h, 7x7, "A")
      -> num_layers x [LSTM layer (h units) on the stream, 1x1 "B" up to 2h, + skip]
      -> ReLU, 1x1 "B" (output_filters), ReLU, 1x1 "B" (C * levels)
      -> softmax over levels per sub-pixel (R -> G -> B)

The LSTM layer is :class:`tfar.layers.row_lstm.RowLSTMLayer` (receptive field: the triangle
above a pixel) or :class:`tfar.layers.diagonal_bilstm.DiagonalBiLSTMLayer` (every earlier
pixel). The residual connections are those of sec. 3.4. With ``num_classes`` a learned
per-class bias is added to the input of every LSTM layer.

``DiagonalBiLSTM(full_context=True)`` (the default) also feeds the image to the
right-to-left direction of the first layer (see :mod:`tfar.layers.diagonal_bilstm`);
without it the last pixel of the previous row is out of reach of most pixels.

Sampling uses a cached ``step`` that computes every layer at the current pixel only:
the 7x7 input layer from its rows of input (see :meth:`MaskedConv2D.output_at`), the
Row LSTM from the hidden and cell states of the row above, the Diagonal BiLSTM's
left-to-right direction from the pixel above and the one to the left. The Diagonal
BiLSTM's right-to-left direction of a finished row runs once at the start of the next
row, the only row-sized work. For RGB the current pixel is recomputed at each of its
sub-pixels; the masks keep the colour groups not yet drawn out of it.
"""

import keras
import tensorflow as tf

from tfar.arg_checks import odd_positive_int, positive_int, positive_multiple
from tfar.layers import diagonal_bilstm as diagonal_bilstm_layer
from tfar.layers import row_lstm as row_lstm_layer
from tfar.layers.masked_conv2d import MaskedConv2D, write_at
from tfar.models.base import AutoregressiveModel
from tfar.models.image_step import pixel_params, sub_pixel_index, updated_when, write_channel, write_image_rows
from tfar.models.pixelcnn import check_image_shape


class _PixelRNN(AutoregressiveModel):
    """Shared body of the PixelRNN models; subclasses choose the LSTM layer."""

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=24, num_layers=2, output_filters=48,
                 kernel_size=7, num_classes=None, **kwargs):
        image_shape = check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **kwargs)
        colors = image_shape[2]
        units = positive_multiple("units", units, colors, f"the number of channels {colors}")
        self.image_shape = image_shape
        self.units = units
        self.num_layers = positive_int("num_layers", num_layers)
        self.output_filters = positive_int("output_filters", output_filters)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        stream = 2 * units
        self.input_conv = MaskedConv2D(stream, kernel_size, "A", colors, name="input_conv")
        self.recurrent_layers = [self._make_lstm(units, colors, f"lstm{i}") for i in range(self.num_layers)]
        self.up_convs = [MaskedConv2D(stream, 1, "B", colors, name=f"lstm{i}_up") for i in range(self.num_layers)]
        self.class_biases = None
        if num_classes is not None:
            self.class_biases = [
                keras.layers.Embedding(num_classes, stream, name=f"lstm{i}_class_bias") for i in range(self.num_layers)
            ]
        self.output_hidden = MaskedConv2D(self.output_filters, 1, "B", colors, name="output_hidden")
        self.output_conv = MaskedConv2D(colors * self.head.params_per_value, 1, "B", colors, name="output_conv")

    def _make_lstm(self, units, colors, name):
        raise NotImplementedError

    def _run_lstm(self, index, inputs, image):
        return self.recurrent_layers[index](inputs)

    def network(self, h, condition=None, training=None):
        image = h
        h = self.input_conv(h)
        for i, up in enumerate(self.up_convs):
            h = h + up(self._run_lstm(i, self._with_class_bias(i, h, condition), image))
        return self.output_conv(tf.nn.relu(self.output_hidden(tf.nn.relu(h))))

    # ----------------------------------------------------- cached sampling
    def _with_class_bias(self, index, h, condition):
        """``h`` [B, ..., 2u] plus the class bias of LSTM layer ``index`` (if conditional)."""
        if self.class_biases is None:
            return h
        bias = tf.cast(self.class_biases[index](condition), h.dtype)
        return h + tf.reshape(bias, [-1] + [1] * (h.shape.rank - 2) + [bias.shape[-1]])

    def _lstm_state(self, batch_size):
        """The per-layer entries of the sampling state (see the subclass)."""
        raise NotImplementedError

    def _lstm_pixel(self, index, x, state, new, row, col, last_sub_pixel):
        """LSTM layer ``index`` at pixel (row, col) on its input ``x`` [B, 2u]: the output [B, u].

        Reads ``state`` and writes the layer's updated entries into ``new``.
        """
        raise NotImplementedError

    # True when the state needs row-sized work at the start of each row (``_next_row``)
    _updates_at_row_start = False

    def _next_row(self, state, row):
        """The state at the start of image row ``row`` >= 1 (row-sized work, once per row)."""
        raise NotImplementedError

    def _write_previous(self, state, position, x):
        """Other state entries that record sub-pixel ``position`` (``x``): none here."""
        return state

    def initial_state(self, batch_size, condition=None):
        self.build()
        state = {"position": tf.zeros([], tf.int32),
                 "image": self.input_conv.initial_rows(batch_size, self.image_shape[1])}
        if self.num_classes is not None:
            state["condition"] = tf.cast(condition, tf.int32)
        state.update(self._lstm_state(batch_size))
        return state

    def _zeros(self, batch_size, *shape):
        # the dtype the LSTM layers compute in (their own policy, e.g. the global mixed policy)
        return tf.zeros([batch_size, *shape], self.recurrent_layers[0].compute_dtype)

    def step(self, x_prev, state):
        """Write ``x_prev`` (the sub-pixel at ``position - 1``), return the params at ``position``."""
        height, width, colors = self.image_shape
        n, position = height * width * colors, state["position"]
        image = write_image_rows(self.input_conv, state["image"], position - 1, self.embed_input(x_prev),
                                 self.image_shape)
        state = self._write_previous(dict(state, image=image), position - 1, x_prev)
        row, col, channel = sub_pixel_index(tf.minimum(position, n - 1), self.image_shape)
        row_start = tf.logical_and(tf.equal(position % (width * colors), 0),
                                   tf.logical_and(position > 0, position < n))
        if self._updates_at_row_start:
            state = updated_when(row_start, lambda state: self._next_row(state, row), state)
        new = dict(state, position=position + 1)
        last_sub_pixel = tf.equal(channel, colors - 1)
        h = self.input_conv.output_at(image, row, col)
        for i, up in enumerate(self.up_convs):
            x = self._with_class_bias(i, h, state.get("condition"))
            out = self._lstm_pixel(i, tf.cast(x, self.recurrent_layers[i].compute_dtype), state, new, row, col,
                                   last_sub_pixel)
            h = h + up.pixel_call(tf.cast(out, h.dtype))
        raw = self.output_conv.pixel_call(tf.nn.relu(self.output_hidden.pixel_call(tf.nn.relu(h))))
        return pixel_params(self, raw, channel), new

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, units=self.units,
            num_layers=self.num_layers, output_filters=self.output_filters, kernel_size=self.kernel_size,
            num_classes=self.num_classes,
        )
        return config


@keras.saving.register_keras_serializable(package="tfar")
class RowLSTM(_PixelRNN):
    """PixelRNN with Row LSTM layers (sec. 3.1).

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per sub-pixel (256; 2 gives a Bernoulli head).
      units: LSTM state width h (divisible by C); the residual stream is 2h wide.
      num_layers: number of Row LSTM layers.
      output_filters: width of the hidden 1x1 output layer.
      kernel_size: size of the first (mask "A") convolution.
      lstm_kernel_size: width k of the Row LSTM's 1 x k convolutions.
      num_classes: condition on this many labels, or None.
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=24, num_layers=2, output_filters=48,
                 kernel_size=7, lstm_kernel_size=3, num_classes=None, **kwargs):
        self.lstm_kernel_size = odd_positive_int("lstm_kernel_size", lstm_kernel_size)
        super().__init__(image_shape=image_shape, num_levels=num_levels, units=units, num_layers=num_layers,
                         output_filters=output_filters, kernel_size=kernel_size, num_classes=num_classes, **kwargs)

    def _make_lstm(self, units, colors, name):
        return row_lstm_layer.RowLSTMLayer(units, self.lstm_kernel_size, colors, name=name)

    # sampling state of layer l (k = lstm_kernel_size // 2):
    #   inputs<l> [B, k, 2u]          the layer input at the k pixels left of the current one
    #   rows<l>   [B, 2, W + 2k, 2u]  hidden and cell states (h | c) of rows i - 1 and i
    #                                 (slot = row mod 2, k zero columns on each side)
    def _lstm_state(self, batch_size):
        width, half, state = self.image_shape[1], self.lstm_kernel_size // 2, {}
        for i in range(self.num_layers):
            if half:
                state[f"inputs{i}"] = self._zeros(batch_size, half, 2 * self.units)
            state[f"rows{i}"] = self._zeros(batch_size, 2, width + 2 * half, 2 * self.units)
        return state

    def _lstm_pixel(self, index, x, state, new, row, col, last_sub_pixel):
        lstm, half, units = self.recurrent_layers[index], self.lstm_kernel_size // 2, self.units
        window = x[:, None]
        if half:
            left = tf.where(col > 0, state[f"inputs{index}"], tf.zeros_like(state[f"inputs{index}"]))
            window = tf.concat([left, window], axis=1)
            new[f"inputs{index}"] = tf.where(last_sub_pixel, window[:, 1:], left)
        # row - 1 at columns col-k .. col+k: the column first, then the slot (row + 1 == row - 1 mod 2
        # keeps the operand non-negative, as in MaskedConv2D.output_at)
        above = tf.gather(tf.gather(state[f"rows{index}"], col + tf.range(2 * half + 1), axis=2), (row + 1) % 2, axis=1)
        h, c = lstm.pixel_step(window, above[..., :units], above[:, half, units:])
        new[f"rows{index}"] = write_at(state[f"rows{index}"], [row % 2, col + half], tf.concat([h, c], axis=-1))
        return h

    def get_config(self):
        config = super().get_config()
        config.update(lstm_kernel_size=self.lstm_kernel_size)
        return config


@keras.saving.register_keras_serializable(package="tfar")
class DiagonalBiLSTM(_PixelRNN):
    """PixelRNN with Diagonal BiLSTM layers (sec. 3.2); sees every earlier pixel.

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per sub-pixel (256; 2 gives a Bernoulli head).
      units: LSTM state width h per direction (divisible by C); the residual stream is 2h wide.
      num_layers: number of Diagonal BiLSTM layers.
      output_filters: width of the hidden 1x1 output layer.
      kernel_size: size of the first (mask "A") convolution.
      full_context: also feed the image to the right-to-left direction of the first layer,
        so every pixel sees all earlier pixels (False: the paper's layer as is).
      num_classes: condition on this many labels, or None.
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=24, num_layers=2, output_filters=48,
                 kernel_size=7, full_context=True, num_classes=None, **kwargs):
        if not isinstance(full_context, bool):
            raise ValueError(f"full_context must be True or False, got {full_context!r}")
        self.full_context = full_context
        super().__init__(image_shape=image_shape, num_levels=num_levels, units=units, num_layers=num_layers,
                         output_filters=output_filters, kernel_size=kernel_size, num_classes=num_classes, **kwargs)

    def _make_lstm(self, units, colors, name):
        return diagonal_bilstm_layer.DiagonalBiLSTMLayer(units, colors, name=name)

    # sampling state of layer l:
    #   inputs<l>      [B, W, 2u]     the layer inputs of the current row so far
    #   forward<l>     [B, 2, W, u]   left-to-right hidden states of rows i - 1 and i (slot = row mod 2)
    #   left_hidden<l>, left_cell<l> [B, u]   left-to-right states at the pixel to the left
    #   backward<l>    [B, W, u]      right-to-left hidden states of row i - 1, which row i adds
    #   image_row      [B, W, C]      the current image row so far, embedded (with full_context)
    def _lstm_state(self, batch_size):
        width, units, state = self.image_shape[1], self.units, {}
        if self.full_context:
            state["image_row"] = tf.zeros([batch_size, width, self.image_shape[2]], self.compute_dtype)
        for i in range(self.num_layers):
            state[f"inputs{i}"] = self._zeros(batch_size, width, 2 * units)
            state[f"forward{i}"] = self._zeros(batch_size, 2, width, units)
            state[f"left_hidden{i}"] = self._zeros(batch_size, units)
            state[f"left_cell{i}"] = self._zeros(batch_size, units)
            state[f"backward{i}"] = self._zeros(batch_size, width, units)
        return state

    def _write_previous(self, state, position, x):
        if not self.full_context:
            return state
        _, col, channel = sub_pixel_index(position, self.image_shape)
        image_row = write_channel(state["image_row"], [col], channel, self.embed_input(x), position >= 0)
        return dict(state, image_row=image_row)

    _updates_at_row_start = True

    def _next_row(self, state, row):
        """The right-to-left direction of every layer on the finished row ``row - 1``.

        The row buffers it reads are cleared here: this also keeps XLA from hoisting their
        row-sized products out of the zero-or-one-trip loop of :func:`updated_when` (where
        they would run at every step) as it does with loop-invariant work.
        """
        new = dict(state)
        for i, lstm in enumerate(self.recurrent_layers):
            pixels = state["image_row"] if i == 0 and self.full_context else None
            new[f"backward{i}"] = lstm.backward_row(state[f"inputs{i}"], state[f"backward{i}"], pixels)
            new[f"inputs{i}"] = tf.zeros_like(state[f"inputs{i}"])
        if self.full_context:
            new["image_row"] = tf.zeros_like(state["image_row"])
        return new

    def _lstm_pixel(self, index, x, state, new, row, col, last_sub_pixel):
        lstm = self.recurrent_layers[index]
        new[f"inputs{index}"] = write_at(state[f"inputs{index}"], [col], x)
        h_above = tf.gather(tf.gather(state[f"forward{index}"], col, axis=2), (row + 1) % 2, axis=1)  # row - 1
        left = [state[f"left_{k}{index}"] for k in ("hidden", "cell")]
        left = [tf.where(col > 0, value, tf.zeros_like(value)) for value in left]  # zeros left of the image
        h, c = lstm.forward_pixel(x, h_above, *left)
        new[f"forward{index}"] = write_at(state[f"forward{index}"], [row % 2, col], h)
        new[f"left_hidden{index}"] = tf.where(last_sub_pixel, h, left[0])
        new[f"left_cell{index}"] = tf.where(last_sub_pixel, c, left[1])
        return h + tf.gather(state[f"backward{index}"], col, axis=1)

    def _run_lstm(self, index, inputs, image):
        if index == 0 and self.full_context:
            return self.recurrent_layers[index](inputs, row_inputs=image)
        return self.recurrent_layers[index](inputs)

    def get_config(self):
        config = super().get_config()
        config.update(full_context=self.full_context)
        return config

"""PixelRNN: Row LSTM and Diagonal BiLSTM image models (van den Oord et al. 2016, arXiv:1601.06759, sec. 3).

    x -> MaskedConv2D(2h, 7x7, "A")
      -> num_layers x [LSTM layer (h units) on the stream, 1x1 "B" up to 2h, + skip]
      -> ReLU, 1x1 "B" (output_filters), ReLU, 1x1 "B" (C * levels)
      -> softmax over levels per sub-pixel (R -> G -> B)

The LSTM layer is :class:`tfar.layers.row_lstm.RowLSTM` (receptive field: the triangle
above a pixel) or :class:`tfar.layers.diagonal_bilstm.DiagonalBiLSTM` (every earlier
pixel). The residual connections are those of sec. 3.4. With ``num_classes`` a learned
per-class bias is added to the input of every LSTM layer.

``DiagonalBiLSTM(full_context=True)`` (the default) also feeds the image to the
right-to-left direction of the first layer (see :mod:`tfar.layers.diagonal_bilstm`);
without it the last pixel of the previous row is out of reach of most pixels.

Sampling uses a cached ``step``: the state holds the recurrent states of the last
completed row, so a step recomputes one row of the network instead of the whole image.
"""

import keras
import tensorflow as tf

from tfar.arg_checks import odd_positive_int, positive_int, positive_multiple
from tfar.layers import diagonal_bilstm as diagonal_bilstm_layer
from tfar.layers import row_lstm as row_lstm_layer
from tfar.layers.diagonal_bilstm import mirror
from tfar.layers.masked_conv2d import MaskedConv2D
from tfar.models.base import AutoregressiveModel
from tfar.models.pixelcnn import check_image_shape


class _PixelRNN(AutoregressiveModel):
    """Shared body of the PixelRNN models; subclasses choose the LSTM layer."""

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=16, num_layers=2, output_filters=32,
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
    # The state keeps per layer the recurrent states of the last completed row. A step runs
    # every layer on the current row only; a row that has just been completed is first
    # committed to the state. Cost per step: O(W) instead of the full network's O(H W).
    def _row_state_names(self):
        raise NotImplementedError

    def _row(self, image, row, rows_above, condition, commit):
        """Raw output row [B, W, C * params] of image row ``row`` and (if ``commit``) its states."""
        raise NotImplementedError

    def _with_class_bias(self, index, h, condition):
        if self.class_biases is None:
            return h
        return h + tf.cast(self.class_biases[index](condition), h.dtype)[:, None, None, :]

    def _input_row(self, image, row):
        """The first (mask "A") convolution at image row ``row`` only: [B, 1, W, 2u]."""
        pad = self.kernel_size // 2
        padded = tf.pad(image, [[0, 0], [pad, 0], [0, 0], [0, 0]])
        window = tf.gather(padded, row + tf.range(pad + 1), axis=1)  # image rows row - pad .. row
        return self.input_conv(window)[:, pad:]

    def _output_row(self, h):
        return self.output_conv(tf.nn.relu(self.output_hidden(tf.nn.relu(h))))[:, 0]

    def initial_state(self, batch_size, condition=None):
        self.build()
        state = super().initial_state(batch_size, condition)
        # the dtype the LSTM layers compute in (their own policy, e.g. the global mixed policy)
        zeros = tf.zeros([batch_size, self.image_shape[1], self.units], self.recurrent_layers[0].compute_dtype)
        state.update({name: zeros for name in self._row_state_names()})
        return state

    def step(self, x_prev, state):
        height, width, colors = self.image_shape
        per_row, n = width * colors, height * width * colors
        canvas, position = self.write_canvas(state, x_prev), state["position"]
        image = self.embed_input(self.unflatten(canvas))
        condition = state.get("condition")
        rows_above = {name: state[name] for name in self._row_state_names()}
        row = tf.minimum(position // per_row, height - 1)
        row_done = tf.logical_and(tf.equal(position % per_row, 0), tf.logical_and(position > 0, position < n))
        rows_above = tf.cond(row_done, lambda: self._row(image, row - 1, rows_above, condition, True)[1],
                             lambda: rows_above)
        raw, _ = self._row(image, row, rows_above, condition, False)
        params = tf.reshape(tf.cast(raw, tf.float32), [tf.shape(raw)[0], per_row, *self.head.param_suffix])
        params = tf.gather(params, tf.minimum(position, n - 1) % per_row, axis=1)
        return params, dict(state, canvas=canvas, position=position + 1, **rows_above)

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

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=16, num_layers=2, output_filters=32,
                 kernel_size=7, lstm_kernel_size=3, num_classes=None, **kwargs):
        self.lstm_kernel_size = odd_positive_int("lstm_kernel_size", lstm_kernel_size)
        super().__init__(image_shape=image_shape, num_levels=num_levels, units=units, num_layers=num_layers,
                         output_filters=output_filters, kernel_size=kernel_size, num_classes=num_classes, **kwargs)

    def _make_lstm(self, units, colors, name):
        return row_lstm_layer.RowLSTM(units, self.lstm_kernel_size, colors, name=name)

    def _row_state_names(self):
        return [f"{k}{i}" for i in range(self.num_layers) for k in "hc"]

    def _row(self, image, row, rows_above, condition, commit):
        """Row LSTM: the (h, c) of row ``row`` from those of the row above, every layer."""
        h = self._input_row(image, row)
        new_rows = {}
        for i, (lstm, up) in enumerate(zip(self.recurrent_layers, self.up_convs)):
            z_row = lstm.input_to_state(self._with_class_bias(i, h, condition))[:, 0]
            h_row, c_row = lstm.row_step(z_row, rows_above[f"h{i}"], rows_above[f"c{i}"])
            new_rows[f"h{i}"], new_rows[f"c{i}"] = h_row, c_row
            h = h + up(h_row[:, None])
        return self._output_row(h), new_rows

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

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, units=16, num_layers=2, output_filters=32,
                 kernel_size=7, full_context=True, num_classes=None, **kwargs):
        if not isinstance(full_context, bool):
            raise ValueError(f"full_context must be True or False, got {full_context!r}")
        self.full_context = full_context
        super().__init__(image_shape=image_shape, num_levels=num_levels, units=units, num_layers=num_layers,
                         output_filters=output_filters, kernel_size=kernel_size, num_classes=num_classes, **kwargs)

    def _make_lstm(self, units, colors, name):
        return diagonal_bilstm_layer.DiagonalBiLSTM(units, colors, name=name)

    def _row_state_names(self):
        return [f"{d}{i}" for i in range(self.num_layers) for d in ("forward", "backward")]

    def _row(self, image, row, rows_above, condition, commit):
        """Diagonal BiLSTM on one row: the layer output at row r is forward(r) + backward(r - 1)."""
        h = self._input_row(image, row)
        new_rows = {}
        for i, (lstm, up) in enumerate(zip(self.recurrent_layers, self.up_convs)):
            inputs = self._with_class_bias(i, h, condition)
            forward = lstm.scan_row(lstm.input_to_state(inputs, 0)[:, 0], rows_above[f"forward{i}"], 0)
            if commit:
                pixels = tf.gather(image, [row], axis=1) if i == 0 and self.full_context else None
                z_back = mirror(lstm.input_to_state(inputs, 1, pixels)[:, 0], 1)
                above = mirror(rows_above[f"backward{i}"], 1)
                new_rows[f"forward{i}"] = forward
                new_rows[f"backward{i}"] = mirror(lstm.scan_row(z_back, above, 1), 1)
            h = h + up((forward + rows_above[f"backward{i}"])[:, None])
        return self._output_row(h), new_rows

    def _run_lstm(self, index, inputs, image):
        if index == 0 and self.full_context:
            return self.recurrent_layers[index](inputs, row_inputs=image)
        return self.recurrent_layers[index](inputs)

    def get_config(self):
        config = super().get_config()
        config.update(full_context=self.full_context)
        return config

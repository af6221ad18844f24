"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders", arXiv:1606.05328).

    x -> GatedBlock(mask "A", input_kernel_size)       v, h, skip_0
      -> (num_layers - 1) x GatedBlock(mask "B", kernel_size)   v, h (+ residual), skip_l
      -> ReLU(h + sum_l skip_l), 1x1 "B" (output_filters), ReLU, 1x1 "B" (C * levels)
      -> softmax over levels per sub-pixel (R -> G -> B)

The vertical and horizontal stacks remove the blind spot of the masked-convolution
PixelCNN: every pixel sees all pixels above it within the receptive field. With
``num_classes`` the label's one-hot vector h is projected and added to the filter and
gate pre-activations of every layer (eq. 4 of the paper):
``y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)``.
"""

import keras
import tensorflow as tf

from tfar.arg_checks import odd_positive_int, positive_int, positive_multiple
from tfar.layers.gated_block import GatedBlock
from tfar.layers.masked_conv2d import MaskedConv2D
from tfar.models.base import AutoregressiveModel
from tfar.models.image_step import pixel_params, sub_pixel_index, updated_when, write_channel
from tfar.models.pixelcnn import check_image_shape


@keras.saving.register_keras_serializable(package="tfar")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN with vertical/horizontal stacks and optional class conditioning.

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per sub-pixel (256; 2 gives a Bernoulli head).
      num_layers: gated layers, the first one with mask "A".
      filters: channels of both stacks (divisible by C).
      kernel_size: n of the n x n receptive window of the mask "B" layers (odd).
      input_kernel_size: n of the first (mask "A") layer (odd, >= 3 for grey).
      output_filters: width of the hidden 1x1 output layer (divisible by C).
      num_classes: condition on this many labels, or None.
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, num_layers=10, filters=48, kernel_size=3,
                 input_kernel_size=7, output_filters=96, num_classes=None, **kwargs):
        image_shape = check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **kwargs)
        colors = image_shape[2]
        self.image_shape = image_shape
        channels = f"the number of channels C={colors}"
        self.num_layers = positive_int("num_layers", num_layers)
        self.filters = positive_multiple("filters", filters, colors, channels)
        self.kernel_size = odd_positive_int("kernel_size", kernel_size)
        self.input_kernel_size = odd_positive_int("input_kernel_size", input_kernel_size)
        self.output_filters = positive_multiple("output_filters", output_filters, colors, channels)
        if colors == 1 and self.input_kernel_size == 1:
            raise ValueError("input_kernel_size=1 leaves the grey mask-'A' horizontal stack empty; use >= 3")
        condition_dim = self.num_classes
        self.blocks = [
            GatedBlock(self.filters, self.input_kernel_size, "A", colors, residual=False,
                       condition_dim=condition_dim, name="gated0")
        ] + [
            GatedBlock(self.filters, self.kernel_size, "B", colors, residual=True,
                       condition_dim=condition_dim, name=f"gated{i}")
            for i in range(1, self.num_layers)
        ]
        self.output_hidden = MaskedConv2D(self.output_filters, 1, "B", colors, name="output_hidden")
        self.output_conv = MaskedConv2D(colors * self.head.params_per_value, 1, "B", colors, name="output_conv")

    def _one_hot(self, condition):
        if self.num_classes is None:
            return None
        return tf.one_hot(tf.cast(condition, tf.int32), self.num_classes, dtype=self.compute_dtype)

    def _output(self, h, skips):
        out = tf.nn.relu(h + tf.add_n(skips))
        return self.output_conv(tf.nn.relu(self.output_hidden(out)))

    def network(self, h, condition=None, training=None):
        c = self._one_hot(condition)
        v, skips = h, []
        for block in self.blocks:
            v, h, skip = block((v, h), condition=c)
            skips.append(skip)
        return self._output(h, skips)

    # --------------------------------------------------------------- sampling
    # The state of the cached step (k_l = kernel_size // 2 of block l):
    #   image_row     [B, W + 2 k_0, C]           the current image row so far (embedded, zero-padded)
    #   vertical<l>   [B, k_l, W + 2 k_l, C_in]   block l's vertical input, the k_l rows above the current row
    #   offsets       [B, W, L, 2F]               per block, what the current row's horizontal stack adds
    #                                             from the rows above (see GatedBlock.vertical_row)
    #   columns<l>    [B, k_l, F]                 block l's horizontal input, the k_l pixels left (l >= 1)
    # A step costs one pixel of every horizontal stack. At the start of row i >= 1 the
    # vertical stacks run once on row i - 1 (one row per block, O(W) once per row).
    def initial_state(self, batch_size, condition=None):
        self.build()
        _, width, colors = self.image_shape
        dtype = self.compute_dtype
        c = self._one_hot(condition)
        state = {"position": tf.zeros([], tf.int32)}
        if self.num_classes is not None:
            state["condition"] = tf.cast(condition, tf.int32)
        reach = self._reaches()
        state["image_row"] = tf.zeros([batch_size, width + 2 * reach[0], colors], dtype)
        for i, k in enumerate(reach):
            channels = colors if i == 0 else self.filters
            if k:
                state[f"vertical{i}"] = tf.zeros([batch_size, k, width + 2 * k, channels], dtype)
                if i:
                    state[f"columns{i}"] = tf.zeros([batch_size, k, channels], dtype)
        first = tf.stack([block.first_row_offset(batch_size, c) for block in self.blocks], axis=1)
        state["offsets"] = tf.tile(first[:, None], [1, width, 1, 1])
        return state

    def _reaches(self):
        return [block.kernel_size // 2 for block in self.blocks]

    def _next_row(self, state):
        """The state at the start of a new row: the vertical stacks run on the finished row."""
        c = self._one_hot(state.get("condition"))
        reach = self._reaches()
        new = dict(state)
        row, offsets = state["image_row"], []
        for i, (block, k) in enumerate(zip(self.blocks, reach)):
            rows = row[:, None]
            if k:
                rows = tf.concat([state[f"vertical{i}"], rows], axis=1)
                new[f"vertical{i}"] = rows[:, 1:]
                if i:
                    new[f"columns{i}"] = tf.zeros_like(state[f"columns{i}"])
            v, offset = block.vertical_row(rows, c)
            offsets.append(offset)
            if i + 1 < len(self.blocks):
                pad = reach[i + 1]
                row = tf.pad(v, [[0, 0], [pad, pad], [0, 0]])
        new["offsets"] = tf.stack(offsets, axis=2)
        new["image_row"] = tf.zeros_like(state["image_row"])
        return new

    def step(self, x_prev, state):
        """Write ``x_prev`` (the sub-pixel at ``position - 1``), return the params at ``position``."""
        height, width, colors = self.image_shape
        n, position = height * width * colors, state["position"]
        reach = self._reaches()
        # the previous sub-pixel belongs to the row held in image_row
        _, column, channel = sub_pixel_index(position - 1, self.image_shape)
        image_row = write_channel(state["image_row"], [column + reach[0]], channel, self.embed_input(x_prev),
                                  position > 0)
        state = dict(state, image_row=image_row)

        row_start = tf.logical_and(tf.equal(position % (width * colors), 0),
                                   tf.logical_and(position > 0, position < n))
        state = updated_when(row_start, self._next_row, state)

        _, col, channel = sub_pixel_index(tf.minimum(position, n - 1), self.image_shape)
        offsets = tf.gather(state["offsets"], col, axis=1)  # [B, L, 2F]
        new = dict(state, position=position + 1)
        h = tf.gather(state["image_row"], col + tf.range(reach[0] + 1), axis=1)  # columns col-k .. col
        skips = []
        for i, (block, k) in enumerate(zip(self.blocks, reach)):
            window = h
            if i:
                window = h[:, None]
                if k:
                    left = state[f"columns{i}"]
                    window = tf.concat([left, window], axis=1)
                    # the pixel's final input is the one computed at its last sub-pixel
                    new[f"columns{i}"] = window[:, 1:] if colors == 1 else tf.where(
                        tf.equal(channel, colors - 1), window[:, 1:], left)
            h, skip = block.horizontal_pixel(window, offsets[:, i])
            skips.append(skip)
        out = tf.nn.relu(h + tf.add_n(skips))
        raw = self.output_conv.pixel_call(tf.nn.relu(self.output_hidden.pixel_call(out)))
        return pixel_params(self, raw, channel), new

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, num_layers=self.num_layers,
            filters=self.filters, kernel_size=self.kernel_size, input_kernel_size=self.input_kernel_size,
            output_filters=self.output_filters, num_classes=self.num_classes,
        )
        return config

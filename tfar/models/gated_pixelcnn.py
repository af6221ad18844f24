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

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, num_layers=10, filters=64, kernel_size=3,
                 input_kernel_size=7, output_filters=128, num_classes=None, **kwargs):
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
    @property
    def sampling_window(self):
        """(rows above, columns left, columns right) that a pixel's parameters can depend on.

        Every layer reaches ``n // 2`` columns left (horizontal and vertical stacks) and
        right (vertical stack), and ``n // 2`` rows up; the shift between the stacks adds
        one row.
        """
        reach = self.input_kernel_size // 2 + (self.num_layers - 1) * (self.kernel_size // 2)
        return (reach + 1, reach, reach)

    def initial_state(self, batch_size, condition=None):
        """The base state plus ``links`` [B, num_layers, W, 2 * filters] (float32).

        ``links[:, l]`` caches what layer l's horizontal stack gets from the vertical
        stack for the current row; it is recomputed once per row.
        """
        state = super().initial_state(batch_size, condition=condition)
        state["links"] = tf.zeros([batch_size, self.num_layers, self.image_shape[1], 2 * self.filters], tf.float32)
        return state

    def step(self, x_prev, state):
        """Cached step: the vertical stacks once per row, the horizontal stacks on a row strip.

        At the first sub-pixel of row i the vertical stacks run on the rows above i
        that the receptive field reaches (full width) and their links for row i are
        cached. Each sub-pixel then runs only the horizontal stacks, on the
        ``reach + 1`` pixels of row i that end at the current one. Both crops start
        at a real border or far enough up/left that their zero padding cannot reach
        the current pixel, so the parameters equal those of the full network.
        """
        canvas, position = self.write_canvas(state, x_prev), state["position"]
        height, width, channels = self.image_shape
        n = self.num_positions()
        current = tf.minimum(position, n - 1)
        pixel, channel = current // channels, current % channels
        row, col = pixel // width, pixel % width
        image = self.unflatten(canvas)
        c = self._one_hot(state.get("condition"))
        _, reach, _ = self.sampling_window

        def row_links():
            rows = min(reach + 2, height)  # rows row-1-reach .. row
            top = tf.clip_by_value(row - 1 - reach, 0, height - rows)
            # a static crop shape and convolutions as matmuls: tf2onnx cannot convert a
            # Conv whose kernel shape it does not know inside the branch of a cond
            v = self.embed_input(tf.gather(image, top + tf.range(rows), axis=1))
            links = []
            for block in self.blocks:
                v, link = block.vertical(v, c, as_matmul=True)
                links.append(tf.cast(link[:, row - top], tf.float32))
            return tf.stack(links, axis=1)

        links = tf.cond(tf.equal(current % (width * channels), 0), row_links, lambda: state["links"])

        cols = min(reach + 1, width)  # columns col-reach .. col
        start = tf.clip_by_value(col - reach, 0, width - cols)
        h = self.embed_input(tf.slice(image, tf.stack([0, row, start, 0]), [-1, 1, cols, -1]))
        strip_links = tf.cast(tf.slice(links, tf.stack([0, 0, start, 0]), [-1, -1, cols, -1]), self.compute_dtype)
        skips = []
        for i, block in enumerate(self.blocks):
            h, skip = block.horizontal(h, strip_links[:, i, None], c)
            skips.append(skip)
        raw = tf.cast(self._output(h, skips), tf.float32)
        params = tf.reshape(raw, [tf.shape(raw)[0], cols * channels, *self.head.param_suffix])
        params = tf.gather(params, (col - start) * channels + channel, axis=1)
        return params, dict(state, canvas=canvas, position=position + 1, links=links)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, num_layers=self.num_layers,
            filters=self.filters, kernel_size=self.kernel_size, input_kernel_size=self.input_kernel_size,
            output_filters=self.output_filters, num_classes=self.num_classes,
        )
        return config

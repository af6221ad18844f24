"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", sec. 3.5).

    x -> MaskedConv2D(2h, 7x7, "A")
      -> num_residual_blocks x [ReLU, 1x1 "B" to h, ReLU, 3x3 "B", ReLU, 1x1 "B" to 2h, + skip]
      -> ReLU, 1x1 "B" (output_filters), ReLU, 1x1 "B" (C * levels)
      -> softmax over levels per sub-pixel (R -> G -> B)

With ``num_classes`` a learned per-class bias is added in every residual block
(the conditional PixelCNN of van den Oord et al. 2016b, eq. 4, on a 2-D map).

Sampling runs a cached ``step`` (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models"): every masked convolution is causal in raster
order, so all layers can be computed at the current pixel as soon as its input is
known. The state keeps, for the 7x7 input layer and each 3x3 layer, the input rows its
kernel still needs (see :meth:`MaskedConv2D.output_at`); a step writes the previous
sub-pixel into the image rows and computes every layer at the current pixel only, so
its cost does not depend on the image size. For RGB the current pixel is recomputed at
each of its sub-pixels; the masks keep the colour groups not yet drawn out of it.
"""

import keras
import tensorflow as tf

from tfar.arg_checks import non_negative_int, positive_int, positive_multiple
from tfar.layers import MaskedConv2D
from tfar.models.base import AutoregressiveModel
from tfar.models.image_step import pixel_params, sub_pixel_index, write_image_rows


def check_image_shape(image_shape):
    """(H, W, C) with C in {1, 3}, or a ValueError naming the value."""
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1 or shape[2] not in (1, 3):
        raise ValueError(f"image_shape must be (height, width, 1 or 3) with positive sizes, got {image_shape!r}")
    return shape


@keras.saving.register_keras_serializable(package="tfar")
class PixelCNN(AutoregressiveModel):
    """PixelCNN with masked convolutions and residual blocks.

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per sub-pixel (256; 2 gives a Bernoulli head).
      filters: width 2h of the residual stream (divisible by 2 and by C).
      num_residual_blocks: residual blocks after the 7x7 mask-A layer.
      output_filters: width of the hidden 1x1 output layer.
      kernel_size: size of the first (mask "A") convolution.
      num_classes: condition on this many labels, or None.
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, filters=96, num_residual_blocks=5,
                 output_filters=96, kernel_size=7, num_classes=None, **kwargs):
        image_shape = check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **kwargs)
        colors = image_shape[2]
        self.image_shape = image_shape
        self.filters = positive_multiple("filters", filters, 2 * colors, f"2 * channels = {2 * colors}")
        self.num_residual_blocks = non_negative_int("num_residual_blocks", num_residual_blocks)
        self.output_filters = positive_int("output_filters", output_filters)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        filters, half, blocks = self.filters, self.filters // 2, range(self.num_residual_blocks)
        self.input_conv = MaskedConv2D(filters, self.kernel_size, "A", colors, name="input_conv")
        self.blocks = [
            [
                MaskedConv2D(half, 1, "B", colors, name=f"block{i}_down"),
                MaskedConv2D(half, 3, "B", colors, name=f"block{i}_conv"),
                MaskedConv2D(filters, 1, "B", colors, name=f"block{i}_up"),
            ]
            for i in blocks
        ]
        self.class_biases = None
        if num_classes is not None:
            self.class_biases = [
                keras.layers.Embedding(num_classes, filters, name=f"block{i}_class_bias") for i in blocks
            ]
        self.output_hidden = MaskedConv2D(self.output_filters, 1, "B", colors, name="output_hidden")
        self.output_conv = MaskedConv2D(colors * self.head.params_per_value, 1, "B", colors, name="output_conv")

    def network(self, h, condition=None, training=None):
        h = self.input_conv(h)
        for i, (down, conv, up) in enumerate(self.blocks):
            r = up(tf.nn.relu(conv(tf.nn.relu(down(tf.nn.relu(h))))))
            if self.class_biases is not None:
                r = r + self.class_biases[i](condition)[:, None, None, :]
            h = h + r
        return self.output_conv(tf.nn.relu(self.output_hidden(tf.nn.relu(h))))

    # --------------------------------------------------------------- sampling
    def initial_state(self, batch_size, condition=None):
        """{"position", "image", "block<i>" (+ "condition")}: zero rings of rows (see ``step``)."""
        self.build()
        width = self.image_shape[1]
        state = {"position": tf.zeros([], tf.int32), "image": self.input_conv.initial_rows(batch_size, width)}
        for i, (_, conv, _) in enumerate(self.blocks):
            state[f"block{i}"] = conv.initial_rows(batch_size, width)
        if self.num_classes is not None:
            state["condition"] = tf.cast(condition, tf.int32)
        return state

    def step(self, x_prev, state):
        """Write ``x_prev`` (the sub-pixel at ``position - 1``), return the params at ``position``.

        ``image`` holds the embedded input rows of the first layer, ``block<i>`` those of
        the 3x3 layer of block i; the 1x1 layers need only the current pixel.
        """
        height, width, colors = self.image_shape
        position = state["position"]
        image = write_image_rows(self.input_conv, state["image"], position - 1, self.embed_input(x_prev),
                                 self.image_shape)
        row, col, channel = sub_pixel_index(tf.minimum(position, height * width * colors - 1), self.image_shape)
        new_state = dict(state, position=position + 1, image=image)
        h = self.input_conv.output_at(image, row, col)
        for i, (down, conv, up) in enumerate(self.blocks):
            rows = conv.write_rows(state[f"block{i}"], row, col, tf.nn.relu(down.pixel_call(tf.nn.relu(h))))
            new_state[f"block{i}"] = rows
            r = up.pixel_call(tf.nn.relu(conv.output_at(rows, row, col)))
            if self.class_biases is not None:
                r = r + tf.cast(self.class_biases[i](state["condition"]), r.dtype)
            h = h + r
        raw = self.output_conv.pixel_call(tf.nn.relu(self.output_hidden.pixel_call(tf.nn.relu(h))))
        return pixel_params(self, raw, channel), new_state

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, filters=self.filters,
            num_residual_blocks=self.num_residual_blocks, output_filters=self.output_filters,
            kernel_size=self.kernel_size, num_classes=self.num_classes,
        )
        return config

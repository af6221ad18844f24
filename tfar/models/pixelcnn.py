"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", sec. 3.5).

    x -> MaskedConv2D(2h, 7x7, "A")
      -> num_residual_blocks x [ReLU, 1x1 "B" to h, ReLU, 3x3 "B", ReLU, 1x1 "B" to 2h, + skip]
      -> ReLU, 1x1 "B" (output_filters), ReLU, 1x1 "B" (C * levels)
      -> softmax over levels per sub-pixel (R -> G -> B)

With ``num_classes`` a learned per-class bias is added in every residual block
(the conditional PixelCNN of van den Oord et al. 2016b, eq. 4, on a 2-D map).
"""

import keras
import tensorflow as tf

from tfar.arg_checks import non_negative_int, positive_int, positive_multiple
from tfar.layers import MaskedConv2D
from tfar.models.base import AutoregressiveModel


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

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, filters=64, num_residual_blocks=5,
                 output_filters=128, kernel_size=7, num_classes=None, **kwargs):
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

    @property
    def sampling_window(self):
        """Reach of the 7x7 input layer plus one pixel per 3x3 residual block."""
        reach = self.kernel_size // 2 + self.num_residual_blocks
        return (reach, reach, reach)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, filters=self.filters,
            num_residual_blocks=self.num_residual_blocks, output_filters=self.output_filters,
            kernel_size=self.kernel_size, num_classes=self.num_classes,
        )
        return config

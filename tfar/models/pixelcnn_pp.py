"""PixelCNN++ (Salimans et al. 2017, "PixelCNN++", arXiv:1701.05517).

    x in [-1, 1] (+ a constant ones channel marking the image inside the zero padding)
    u  = conv_down_2x3(down_shift(x))                                     (pixels above)
    ul = conv_down_1x3(down_shift(x)) + conv_down_right_2x1(right_shift(x))  (above and left)
    encoder: num_hierarchies x [num_resnet x (u = GatedResNet(u); ul = GatedResNet(ul, a=u)),
                                then stride-2 shifted convs], every output kept for skips
    decoder: num_hierarchies x [num_resnet (+1 after the first) x
                 (u = GatedResNet(u, a=skip_u); ul = GatedResNet(ul, a=[u, skip_ul])),
                 then stride-2 shifted transposed convs]
    params = Dense(elu(ul)) -> discretized logistic mixture per pixel (all channels at once)

Each pixel's C channels are one autoregressive position: the mixture couples R -> G -> B
linearly (see :mod:`tfar.distributions.discretized_logistic_mixture`), so ``position_shape``
is (C,) and ``model(x)`` returns [batch, H, W, P] parameters. With ``num_classes`` a
projection of the one-hot label is added inside every gated block (conditional PixelCNN,
arXiv:1606.05328, sec. 2.3). Argument names follow ``tfp.distributions.PixelCNN``.

Training recipe of the paper (sec. 3): ``weight_norm=True`` weight-normalises every
convolution and projection (w = g v / ||v||, :mod:`tfar.layers.weight_norm`), and
:meth:`PixelCNNPlusPlus.data_dependent_init` sets each g and bias from a first real batch so
that every layer's outputs start with zero mean and unit variance (0.1 for the last
convolution of a gated block). Polyak averaging of the parameters is the optimizer's
``use_ema=True``.
Generation uses the base class ``step``, which reruns the network on the canvas for every
pixel (the U-net's strided layers make a cached single-pixel step far from simple).
"""

import keras
import tensorflow as tf

from tfar.arg_checks import positive_int, rate_in_unit_interval
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture
from tfar.layers.gated_resnet import GatedResNet
from tfar.layers.shifted_conv2d import ShiftedConv2D, down_shift, right_shift
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.layers.weight_norm import WeightNorm, check_weight_norm_args
from tfar.layers.weight_norm_dense import WeightNormDense
from tfar.models.base import AutoregressiveModel
from tfar.models.pixelcnn import check_image_shape

DOWN, DOWN_RIGHT = ((2, 3), "down"), ((2, 2), "down_right")


@keras.saving.register_keras_serializable(package="tfar")
class PixelCNNPlusPlus(AutoregressiveModel):
    """PixelCNN++ with a discretized logistic mixture head.

    Args:
      image_shape: (H, W, C), C = 1 (grey) or 3 (RGB).
      num_levels: values per channel, a power of two (256 for 8-bit images).
      num_resnet: gated ResNet blocks per hierarchy level.
      num_hierarchies: resolution levels of the U-net (each halves H and W).
      num_filters: channels of both streams.
      num_logistic_mix: mixture components per pixel.
      dropout_p: dropout rate inside the gated blocks.
      num_classes: condition on this many labels, or None.
      weight_norm: weight-normalise every convolution and projection (then call
        :meth:`data_dependent_init` on the first training batch).
    """

    def __init__(self, image_shape=(28, 28, 1), num_levels=256, num_resnet=5, num_hierarchies=3, num_filters=160,
                 num_logistic_mix=10, dropout_p=0.5, num_classes=None, weight_norm=False, **kwargs):
        image_shape = check_image_shape(image_shape)
        super().__init__(event_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **kwargs)
        self.image_shape = image_shape
        self.num_resnet = positive_int("num_resnet", num_resnet)
        self.num_hierarchies = positive_int("num_hierarchies", num_hierarchies)
        self.num_filters = positive_int("num_filters", num_filters)
        self.num_logistic_mix = positive_int("num_logistic_mix", num_logistic_mix)
        self.dropout_p = rate_in_unit_interval("dropout_p", dropout_p)
        self.weight_norm, _ = check_weight_norm_args(weight_norm, 1.0)
        wn = self.weight_norm
        self.head = DiscretizedLogisticMixture(self.num_levels, image_shape[2], self.num_logistic_mix)

        f = self.num_filters

        def block(kind, name, auxiliary):
            kernel, shift = kind
            return GatedResNet(f, kernel, shift, self.dropout_p, auxiliary=auxiliary, num_classes=self.num_classes,
                               weight_norm=wn, name=name)

        self.init_u = ShiftedConv2D(f, (2, 3), "down", weight_norm=wn, name="init_u")
        self.init_ul_up = ShiftedConv2D(f, (1, 3), "down", weight_norm=wn, name="init_ul_up")
        self.init_ul_left = ShiftedConv2D(f, (2, 1), "down_right", weight_norm=wn, name="init_ul_left")
        self.encoder, self.downsample, self.decoder, self.upsample = [], [], [], []
        for i in range(self.num_hierarchies):
            self.encoder.append([(block(DOWN, f"enc{i}_{j}_u", False), block(DOWN_RIGHT, f"enc{i}_{j}_ul", True))
                                 for j in range(self.num_resnet)])
            num_blocks = self.num_resnet if i == 0 else self.num_resnet + 1
            self.decoder.append([(block(DOWN, f"dec{i}_{j}_u", True), block(DOWN_RIGHT, f"dec{i}_{j}_ul", True))
                                 for j in range(num_blocks)])
            if i < self.num_hierarchies - 1:
                self.downsample.append((ShiftedConv2D(f, *DOWN, strides=2, weight_norm=wn, name=f"down{i}_u"),
                                        ShiftedConv2D(f, *DOWN_RIGHT, strides=2, weight_norm=wn, name=f"down{i}_ul")))
                self.upsample.append((ShiftedConv2DTranspose(f, *DOWN, strides=2, weight_norm=wn, name=f"up{i}_u"),
                                      ShiftedConv2DTranspose(f, *DOWN_RIGHT, strides=2, weight_norm=wn,
                                                             name=f"up{i}_ul")))
        dense = WeightNormDense if wn else keras.layers.Dense
        self.output_dense = dense(self.head.params_per_value, name="output_dense")

    @property
    def position_shape(self):
        """One position is a whole pixel: its C channels are drawn together."""
        return (self.image_shape[2],)

    def network(self, h, condition=None, training=None):
        """[B, H, W, C] in [-1, 1] -> mixture parameters [B, H, W, P]."""
        label = None if self.num_classes is None else tf.one_hot(tf.cast(condition, tf.int32), self.num_classes)
        x = tf.concat([h, tf.ones_like(h[..., :1])], axis=-1)
        # shifting the input rather than the first convolutions' outputs gives the same
        # footprint and keeps slices out of the backward pass (the input needs no gradient)
        x_down, x_right = down_shift(x), right_shift(x)
        u = self.init_u(x_down)
        ul = self.init_ul_up(x_down) + self.init_ul_left(x_right)
        skips_u, skips_ul = [u], [ul]
        for i, blocks in enumerate(self.encoder):
            for block_u, block_ul in blocks:
                u = block_u(u, condition=label, training=training)
                ul = block_ul(ul, a=u, condition=label, training=training)
                skips_u.append(u)
                skips_ul.append(ul)
            if i < self.num_hierarchies - 1:
                down_u, down_ul = self.downsample[i]
                u, ul = down_u(u), down_ul(ul)
                skips_u.append(u)
                skips_ul.append(ul)
        u, ul = skips_u.pop(), skips_ul.pop()
        for i, blocks in enumerate(self.decoder):
            for block_u, block_ul in blocks:
                u = block_u(u, a=skips_u.pop(), condition=label, training=training)
                ul = block_ul(ul, a=tf.concat([u, skips_ul.pop()], axis=-1), condition=label, training=training)
            if i < self.num_hierarchies - 1:
                up_u, up_ul = self.upsample[i]
                u, ul = self._crop_like(up_u(u), skips_u[-1]), self._crop_like(up_ul(ul), skips_ul[-1])
        return self.output_dense(tf.nn.elu(ul))

    def data_dependent_init(self, x, condition=None):
        """Initialise every weight-normalised layer from the batch ``x`` (integer pixels [B, H, W, C]).

        One forward pass (in training mode, dropout included, as the paper's code does)
        in which each layer, in forward order, sets g and its bias so that its outputs on
        this batch have zero mean and unit variance per channel (see
        :mod:`tfar.layers.weight_norm`). Call it once on the first real training batch of a
        fresh run, never on restored weights. Without ``weight_norm`` it does nothing.
        Returns the number of layers initialised.
        """
        x, condition = self._check(x, condition)
        self.build()
        if not self.weight_norm:
            return 0
        layers = [layer for layer in self._flatten_layers() if isinstance(layer, WeightNorm)]
        for layer in layers:
            layer.begin_data_dependent_init()
        try:
            self(x, condition=condition, training=True)
        finally:
            missed = [layer.name for layer in layers if layer.data_dependent_init_pending]
            for layer in layers:
                layer._init_pending = False
        if missed:
            raise RuntimeError(f"data-dependent init did not reach the layers {missed}")
        return len(layers)

    @staticmethod
    def _crop_like(x, target):
        """Odd sizes: drop the extra last row/column an upsampling made (no-op when shapes agree)."""
        if x.shape[1:3] == target.shape[1:3] and None not in x.shape[1:3]:
            return x
        size = tf.shape(target)
        return x[:, : size[1], : size[2]]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_levels=self.num_levels, num_resnet=self.num_resnet,
            num_hierarchies=self.num_hierarchies, num_filters=self.num_filters,
            num_logistic_mix=self.num_logistic_mix, dropout_p=self.dropout_p, num_classes=self.num_classes,
            weight_norm=self.weight_norm,
        )
        return config


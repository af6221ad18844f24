"""Gated ResNet block of PixelCNN++ (Salimans et al. 2017, arXiv:1701.05517, sec. 2.4, Fig. 2;
gating of van den Oord et al. 2016, arXiv:1606.05328, eq. 2):

    c = conv(concat_elu(x)) [+ nin(concat_elu(a))]          (a: auxiliary / skip input)
    c = conv2(dropout(concat_elu(c))) [+ W y]               (y: one-hot class label)
    out = x + c_1 * sigmoid(c_2),  (c_1, c_2) = split(c)

``concat_elu(x) = elu([x, -x])``. Dropout keeps a unit when its stateless 16-bit random draw
is >= p * 2^16 (one uint32 serves two units; the rate is exact to 2^-16). On CPU this is
about 6x cheaper than drawing one float per unit, which was the largest non-convolution cost
of a training step. Both convolutions are :class:`ShiftedConv2D` with the same
shift, so the block keeps the causal footprint of its input stream.

With ``weight_norm=True`` both convolutions and the auxiliary projection are weight-normalised
(:mod:`tfar.layers.weight_norm`); data-dependent initialisation then gives the second
convolution the output standard deviation ``output_init_scale``. The default 1.0 is what
``tfp.distributions.PixelCNN``'s initialisation gives; the PixelCNN++ reference code's 0.1
starts every block close to the identity but learned slower here (bench/README.md, "Where the
two still differ": 3.21-3.24 against 3.27-3.40 validation bits/dim after 300 CPU-seconds, at
Adam's 1e-3). It is less forgiving of a large learning rate: at 1e-2 a 4x4 toy diverged from
1.0 and not from 0.1.
"""

import keras
import tensorflow as tf
from keras import ops

from tfar.arg_checks import optional_positive_int, rate_in_unit_interval
from tfar.layers.shifted_conv2d import ShiftedConv2D, check_shift_args
from tfar.layers.weight_norm import check_weight_norm_args
from tfar.layers.weight_norm_dense import WeightNormDense

@tf.autograph.experimental.do_not_convert  # AutoGraph would rewrite it and lose the custom gradient
@tf.custom_gradient
def concat_elu(*xs):
    """ELU of [x, -x] along channels (doubles the channel count): [elu(x), elu(-x)].

    Several tensors give the ELU of their concatenation, [elu(x_1), ..., elu(x_n), elu(-x_1),
    ..., elu(-x_n)], without materialising [x_1, ..., x_n] first (the decoder's skip inputs).
    The gradient is written out, dx_i = elu'(x_i) g_i - elu'(-x_i) g_(n+i) with g_j the
    matching channel blocks of the incoming gradient and elu' read from the saved outputs
    (``EluGrad``, the op of TF's own ELU gradient): one split and one subtraction, where TF's
    gradient of elu(concat([x, -x])) takes a slice per block, a negation and a sum. The
    values are the same bit for bit.
    """
    positive = [tf.nn.elu(x) for x in xs]
    negative = [tf.nn.elu(-x) for x in xs]
    outputs = positive + negative

    def gradient(upstream):
        sizes = [y.shape[-1] for y in outputs]
        if None in sizes:  # channels unknown while tracing
            sizes = tf.stack([tf.shape(y)[-1] for y in outputs])
        blocks = tf.split(upstream, sizes, axis=-1, num=len(outputs))
        grads = [tf.raw_ops.EluGrad(gradients=g, outputs=y) for g, y in zip(blocks, outputs)]
        return [grads[i] - grads[len(xs) + i] for i in range(len(xs))]

    return tf.concat(outputs, axis=-1), gradient


def _parts(a):
    """The auxiliary input as a list of tensors (it may come as several, concatenated along channels)."""
    return list(a) if isinstance(a, (list, tuple)) else [a]


@keras.saving.register_keras_serializable(package="tfar")
class GatedResNet(keras.layers.Layer):
    """Residual block with concat_elu, dropout and a sigmoid gate; input and output have ``filters`` channels.

    Args:
      filters: channels of the residual stream.
      kernel_size: kernel of both shifted convolutions.
      shift: "down" (vertical stream) or "down_right" (horizontal stream).
      dropout_p: dropout rate before the second convolution, in [0, 1).
      auxiliary: whether ``call`` receives an auxiliary input ``a`` (projected by a 1x1 layer).
      num_classes: condition on one-hot labels of this many classes, or None.
      weight_norm: weight-normalise the convolutions and the auxiliary projection.
      output_init_scale: with ``weight_norm``, the standard deviation that data-dependent
        initialisation gives the second convolution's outputs (> 0; unused without it).
    """

    def __init__(self, filters, kernel_size=(2, 3), shift="down", dropout_p=0.5, auxiliary=False,
                 num_classes=None, weight_norm=False, output_init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        filters, kernel_size, _ = check_shift_args(filters, kernel_size, shift, 1)
        dropout_p = rate_in_unit_interval("dropout_p", dropout_p)
        num_classes = optional_positive_int("num_classes", num_classes)
        weight_norm, output_init_scale = check_weight_norm_args(weight_norm, output_init_scale,
                                                               "output_init_scale")
        self.filters = filters
        self.kernel_size = kernel_size
        self.shift = shift
        self.dropout_p = dropout_p
        self.auxiliary = bool(auxiliary)
        self.num_classes = num_classes
        self.weight_norm = weight_norm
        self.output_init_scale = output_init_scale
        self.conv_in = ShiftedConv2D(filters, kernel_size, shift, weight_norm=weight_norm, name="conv_in")
        self.aux_proj = None
        if self.auxiliary:
            self.aux_proj = (WeightNormDense(filters, name="aux_proj") if weight_norm
                             else keras.layers.Dense(filters, name="aux_proj"))
        self.seed_generator = keras.random.SeedGenerator(None, name="dropout_seed")
        self.conv_out = ShiftedConv2D(2 * filters, kernel_size, shift, weight_norm=weight_norm,
                                      init_scale=output_init_scale if weight_norm else 1.0, name="conv_out")
        self.class_proj = (
            keras.layers.Dense(2 * filters, use_bias=False, name="class_proj") if num_classes is not None else None
        )

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            raise ValueError(f"{self.name}: input has {input_shape[-1]} channels, expected filters={self.filters}")

    def call(self, x, a=None, condition=None, training=None):
        """``x`` [B, H, W, filters]; ``a`` [B, H, W, *] if auxiliary (or a list of such tensors, taken as
        their concatenation along channels); ``condition`` one-hot [B, num_classes]."""
        if (a is None) == self.auxiliary:
            raise ValueError(f"{self.name}: auxiliary={self.auxiliary} but a={'None' if a is None else 'a tensor'}")
        if (condition is None) != (self.num_classes is None):
            raise ValueError(f"{self.name}: num_classes={self.num_classes} but condition is "
                             f"{'None' if condition is None else 'given'}")
        c = self.conv_in(concat_elu(x))
        if a is not None:
            c = c + self.aux_proj(concat_elu(*_parts(a)))
        c = self.conv_out(self._dropout(concat_elu(c), training))
        if condition is not None:
            c = c + ops.cast(self.class_proj(condition), c.dtype)[:, None, None, :]
        value, gate = ops.split(c, 2, axis=-1)
        return x + value * ops.sigmoid(gate)

    def call_incremental(self, x, window_in, window_mid, a=None, class_bias=None, rows=False):
        """The block's output at one row (``rows=True``: x [B, W, filters]) or one pixel (x [B, filters]).

        ``window_in(h)`` / ``window_mid(h)`` store ``h``, the current row or pixel of the input
        of ``conv_in`` / ``conv_out``, in the caller's cache and return that convolution's
        receptive field ([B, kh, W, C] rows or a [B, kh, kw, C] window). ``a`` is one tensor or
        a list, as in ``call``; ``class_bias`` is ``class_proj`` of the one-hot label,
        [B, 2 filters]. No dropout (inference).
        """
        conv = (lambda layer, h: layer.call_rows(h)) if rows else (lambda layer, h: layer.call_window(h))
        c = conv(self.conv_in, window_in(concat_elu(x)))
        if a is not None:
            c = c + self.aux_proj(concat_elu(*_parts(a)))
        c = conv(self.conv_out, window_mid(concat_elu(c)))
        if class_bias is not None:
            c = c + (class_bias[:, None, :] if rows else class_bias)
        value, gate = ops.split(c, 2, axis=-1)
        return x + value * ops.sigmoid(gate)

    def _dropout(self, x, training):
        """Inverted dropout: zero each unit with probability p, scale the rest by 1 / (1 - p)."""
        if not training or self.dropout_p == 0.0:
            return x
        seed = tf.cast(self.seed_generator.next(), tf.int32)
        shape = tf.shape(x)  # the last axis is 2 * filters: even, so one uint32 gives two 16-bit draws
        words = tf.random.stateless_uniform(tf.concat([shape[:-1], [shape[-1] // 2]], axis=0), seed,
                                            minval=None, maxval=None, dtype=tf.uint32)
        bits = tf.reshape(tf.bitcast(words, tf.uint16), shape)
        keep = bits >= tf.constant(self._threshold, tf.uint16)
        return tf.where(keep, x / tf.cast(1.0 - self.dropout_p, x.dtype), tf.zeros_like(x))

    @property
    def _threshold(self):
        """Units whose 16-bit draw is below p * 2^16 are dropped (the rate is exact to 2^-16)."""
        return min(int(round(self.dropout_p * 2**16)), 2**16 - 1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, shift=self.shift, dropout_p=self.dropout_p,
            auxiliary=self.auxiliary, num_classes=self.num_classes, weight_norm=self.weight_norm,
            output_init_scale=self.output_init_scale,
        )
        return config

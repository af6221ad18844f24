"""Gated PixelCNN layer with a vertical and a horizontal stack.

van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders"
(arXiv:1606.05328), sec. 2.1-2.3 and Figure 2. With ``n = kernel_size``, ``k = n // 2``:

    vertical:    p_v = conv_{(k+1) x n}(pad_top(v)) + V_v c
                 v'  = tanh(p_v^f) * sigmoid(p_v^g)
    horizontal:  p_h = conv_{1 x (k+1)}(pad_left(h)) + conv_1x1(shift_down(p_v)) + V_h c
                 y   = tanh(p_h^f) * sigmoid(p_h^g)
                 h'  = conv_1x1(y) (+ h when ``residual``),   skip = conv_1x1(y)

The vertical convolution covers rows i-k .. i of its input (never rows below), so the
vertical stack at row i sees input rows <= i. ``shift_down`` moves it one row down
before it enters the horizontal stack: row i of the vertical stack feeds only row
i + 1 of the horizontal one, so a pixel sees every row above it (no blind spot) and
nothing of its own row through the vertical stack. The horizontal convolution covers
columns j-k .. j of the current row; at the current pixel (its last tap) the
R -> G -> B colour-group rule of :func:`tfar.layers.masked_conv2d.causal_mask`
applies (mask "A" in the first layer, "B" after). ``c`` is an optional conditioning
vector (e.g. a class one-hot), added to both the filter (f) and the gate (g) halves.

Pre-activations have ``2 * filters`` channels laid out colour group by colour group,
each group split into its filter half then its gate half:
[R_f | R_g | G_f | G_g | B_f | B_g]. The mask groups channels the same way, so both
halves of a gated unit carry the mask of their colour, and the gated output is grouped
R | G | B like every other tfar layer.

``vertical`` and ``horizontal`` run the two stacks separately. A cached sampling step
uses their one-row and one-pixel forms: ``vertical_row`` computes the vertical stack of
a finished row once (from the k + 1 rows of its input that the kernel reads) and the
``offset`` its horizontal stack adds at the next row, ``horizontal_pixel`` the
horizontal stack at one pixel from its k + 1 inputs j-k .. j. Both are written as
matrix products over static shapes, which ONNX converters handle inside control flow.
"""

import keras
import tensorflow as tf
from keras import ops

from tfar.arg_checks import odd_positive_int, optional_positive_int
from tfar.layers.masked_conv2d import MaskedConv2D, causal_mask, check_colour_groups, check_masked_conv_args


def horizontal_mask(kernel_size, in_channels, out_channels, mask_type="B", color_channels=1):
    """Mask of the 1 x (n//2 + 1) horizontal convolution: the left half of a 1 x n causal mask.

    All taps left of the current pixel are open; the last tap (the current pixel)
    follows the colour-group rule of ``mask_type``.
    """
    full = causal_mask((1, kernel_size), in_channels, out_channels, mask_type, color_channels)
    return full[:, : kernel_size // 2 + 1]


def gate(x, color_channels=1):
    """tanh(filter) * sigmoid(gate) on pre-activations laid out [c0_f | c0_g | c1_f | c1_g | ...]."""
    if color_channels == 1:  # [f | g]: no regrouping reshape (fwd+bwd 6.2 ms against 7.0 at [32, 28, 28, 64])
        filters, gates = ops.split(x, 2, axis=-1)
        return ops.tanh(filters) * ops.sigmoid(gates)
    shape = ops.shape(x)
    channels = x.shape[-1]
    per_group = channels // (2 * color_channels)
    grouped = ops.reshape(x, (*shape[:-1], color_channels, 2, per_group))
    # split, not indexing: the gradient of a split is one concatenation, that of two strided
    # slices is two zero-filled scatters (fwd+bwd 4.6 ms against 40 ms for [32, 28, 28, 64] here)
    filters, gates = ops.split(grouped, 2, axis=-2)
    return ops.reshape(ops.tanh(filters) * ops.sigmoid(gates), (*shape[:-1], channels // 2))


def shift_down(x):
    """[B, H, W, C] moved one row down: row 0 zeros, row i the input's row i - 1.

    tf.slice then pad, not ``pad(x)[:, :-1]``: the gradient of a slice is a pad, that of a
    strided slice a StridedSliceGrad (fwd+bwd 1.0 ms against 16.4 ms for [32, 28, 28, 64]
    on one CPU thread, 17% of the zoo Gated PixelCNN's training step).
    """
    height = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
    shifted = tf.pad(tf.slice(x, [0, 0, 0, 0], [-1, height - 1, -1, -1]), [[0, 0], [1, 0], [0, 0], [0, 0]])
    shifted.set_shape(x.shape)  # a dynamic height leaves the slice's static shape unknown
    return shifted


def conv_as_matmul(x, kernel, bias):
    """'valid' stride-1 convolution as one matrix product over the kh x kw patches of ``x``."""
    kh, kw, cin, cout = kernel.shape
    height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    patches = ops.concatenate(
        [x[:, a : a + height, b : b + width, :] for a in range(kh) for b in range(kw)], axis=-1
    )
    kernel = ops.reshape(ops.cast(kernel, x.dtype), (kh * kw * cin, cout))
    return ops.matmul(patches, kernel) + ops.cast(bias, x.dtype)


@keras.saving.register_keras_serializable(package="tfar")
class GatedBlock(keras.layers.Layer):
    """One gated layer of the two-stack (vertical + horizontal) Gated PixelCNN.

    Call ``block((v, h), condition=None)`` with feature maps ``v`` and ``h`` of shape
    [batch, H, W, channels] (both the image in the first layer) and an optional
    conditioning vector [batch, condition_dim]; returns ``(v', h', skip)``, each
    [batch, H, W, filters].

    Args:
      filters: channels of both stacks; divisible by ``color_channels``.
      kernel_size: odd n >= 1; the vertical stack sees an n-wide window of the
        n // 2 + 1 rows up to its own row, the horizontal stack n // 2 + 1 pixels.
      mask_type: "A" (first layer: excludes the current sub-pixel) or "B".
      color_channels: 1 (grey) or 3 (RGB colour groups).
      residual: add the input of the horizontal stack to its output (needs input
        channels == filters); None means "B" layers are residual, the "A" layer not.
      condition_dim: size of the conditioning vector, or None for no conditioning.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        color_channels=1,
        residual=None,
        condition_dim=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_size = odd_positive_int("kernel_size", kernel_size)
        check_masked_conv_args((1, self.kernel_size), mask_type, color_channels)
        self.filters = check_colour_groups("filters", filters, color_channels)
        if residual is None:
            residual = mask_type == "B"
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be True, False or None, got {residual!r}")
        self.condition_dim = optional_positive_int("condition_dim", condition_dim)
        self.mask_type = mask_type
        self.color_channels = int(color_channels)
        self.residual = residual
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        two_f, dtype = 2 * self.filters, self.dtype_policy
        init = self.kernel_initializer
        k = self.kernel_size // 2
        self.vertical_conv = keras.layers.Conv2D(
            two_f, (k + 1, self.kernel_size), kernel_initializer=init, dtype=dtype, name="vertical_conv"
        )
        self.vertical_to_horizontal = keras.layers.Conv2D(
            two_f, 1, kernel_initializer=init, dtype=dtype, name="vertical_to_horizontal"
        )
        self.output_conv = MaskedConv2D(
            self.filters, 1, "B", self.color_channels, kernel_initializer=init, dtype=dtype, name="output_conv"
        )
        self.skip_conv = MaskedConv2D(
            self.filters, 1, "B", self.color_channels, kernel_initializer=init, dtype=dtype, name="skip_conv"
        )
        self.vertical_condition = self.horizontal_condition = None
        if self.condition_dim is not None:
            self.vertical_condition = keras.layers.Dense(
                two_f, use_bias=False, kernel_initializer=init, dtype=dtype, name="vertical_condition"
            )
            self.horizontal_condition = keras.layers.Dense(
                two_f, use_bias=False, kernel_initializer=init, dtype=dtype, name="horizontal_condition"
            )

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        try:
            v_shape, h_shape = input_shape
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected inputs (v, h), got input shape {input_shape!r}") from None
        v_shape, h_shape = tuple(v_shape), tuple(h_shape)
        h_channels = h_shape[-1]
        if h_channels is None or h_channels % self.color_channels:
            raise ValueError(
                f"{self.name}: horizontal input channels ({h_channels}) must be known and divisible by "
                f"color_channels={self.color_channels}"
            )
        if self.residual and h_channels != self.filters:
            raise ValueError(
                f"{self.name}: residual=True needs horizontal input channels == filters, got {h_channels} "
                f"and filters={self.filters}"
            )
        two_f, k = 2 * self.filters, self.kernel_size // 2
        # sub-layers see padded inputs: build them with free spatial sizes
        self.vertical_conv.build((None, None, None, v_shape[-1]))
        self.vertical_to_horizontal.build((None, None, None, two_f))
        self.horizontal_mask = horizontal_mask(self.kernel_size, h_channels, two_f, self.mask_type, self.color_channels)
        self.horizontal_kernel = self.add_weight(
            name="horizontal_kernel", shape=(1, k + 1, h_channels, two_f), initializer=self.kernel_initializer
        )
        self.horizontal_bias = self.add_weight(name="horizontal_bias", shape=(two_f,), initializer="zeros")
        self.output_conv.build((None, None, None, self.filters))
        self.skip_conv.build((None, None, None, self.filters))
        if self.condition_dim is not None:
            self.vertical_condition.build((None, self.condition_dim))
            self.horizontal_condition.build((None, self.condition_dim))

    # ------------------------------------------------------------------- call
    def call(self, inputs, condition=None):
        v, h = inputs
        if (condition is None) != (self.condition_dim is None):
            raise ValueError(
                f"{self.name}: condition_dim={self.condition_dim} but condition "
                f"{'was not' if condition is None else 'was'} given"
            )
        v_out, link = self.vertical(v, condition)
        h_out, skip = self.horizontal(h, link, condition)
        return v_out, h_out, skip

    def vertical(self, v, condition=None):
        """Vertical stack: (gated output v', link to the horizontal stack).

        ``link[:, i]`` is the 1x1 projection of the vertical pre-activation of row
        i - 1 (zero padding for row 0): everything the horizontal stack of row i gets
        from the rows above. The layer must be built.
        """
        k = self.kernel_size // 2
        # rows i-k .. i, columns j-k .. j+k
        v_pre = self.vertical_conv(ops.pad(v, [[0, 0], [k, 0], [k, k], [0, 0]]))
        if condition is not None:
            v_pre = v_pre + self.vertical_condition(ops.cast(condition, self.compute_dtype))[:, None, None, :]
        # row i of the vertical stack feeds row i + 1 of the horizontal stack
        return gate(v_pre, self.color_channels), self.vertical_to_horizontal(shift_down(v_pre))

    def horizontal(self, h, link, condition=None):
        """Horizontal stack on ``h`` (columns j-k .. j of the row) plus ``link``: (h', skip).

        Works on any run of consecutive columns, e.g. a single row. The layer must be built.
        """
        k = self.kernel_size // 2
        kernel = self.horizontal_kernel * ops.cast(self.horizontal_mask, self.horizontal_kernel.dtype)
        h_pre = ops.conv(ops.pad(h, [[0, 0], [0, 0], [k, 0], [0, 0]]), ops.cast(kernel, h.dtype), padding="valid")
        bias = ops.cast(self.horizontal_bias, h_pre.dtype)
        if condition is not None:
            # bias and V_h c as one [B, 2F] vector: the backward pass reduces the [B, H, W, 2F]
            # gradient once (over H and W), not a second time over B, H and W for the bias
            bias = self.horizontal_condition(ops.cast(condition, self.compute_dtype))[:, None, None, :] + bias
        # a broadcast add, not tf.nn.bias_add, whose fused oneDNN gradient was wrong under mixed_bfloat16
        h_pre = h_pre + ops.cast(bias, h_pre.dtype) + ops.cast(link, h_pre.dtype)
        y = gate(h_pre, self.color_channels)
        h_out = self.output_conv(y)
        if self.residual:
            h_out = h_out + h
        return h_out, self.skip_conv(y)

    # ------------------------------------------------------------ cached step
    def _horizontal_constant(self, batch_size, condition):
        """What the horizontal pre-activation adds at every pixel: its bias (+ V_h c), [B, 2F]."""
        bias = tf.cast(self.horizontal_bias, self.compute_dtype)
        constant = tf.zeros([batch_size, 2 * self.filters], self.compute_dtype) + bias
        if condition is not None:
            constant = constant + self.horizontal_condition(tf.cast(condition, self.compute_dtype))
        return constant

    def first_row_offset(self, batch_size, condition=None):
        """``offset`` [B, 2F] of every pixel of row 0: the link of the zero padding above, bias, V_h c."""
        link = tf.cast(self.vertical_to_horizontal.bias, self.compute_dtype)
        return self._horizontal_constant(batch_size, condition) + link

    def vertical_row(self, rows, condition=None):
        """Vertical stack at one finished row i: (v' [B, W, F], offset [B, W, 2F] for row i + 1).

        ``rows`` [B, k + 1, W + 2k, C_in] are the vertical input rows i-k .. i, zero-padded
        by k columns on both sides. ``offset`` is everything row i + 1 of the horizontal
        pre-activation gets besides its own convolution: the link from row i, the
        horizontal bias and V_h c. Equals :meth:`vertical` at that row.
        """
        v_pre = conv_as_matmul(rows, self.vertical_conv.kernel, self.vertical_conv.bias)[:, 0]
        if condition is not None:
            v_pre = v_pre + self.vertical_condition(tf.cast(condition, self.compute_dtype))[:, None, :]
        kernel = tf.cast(self.vertical_to_horizontal.kernel[0, 0], v_pre.dtype)
        link = tf.matmul(v_pre, kernel) + tf.cast(self.vertical_to_horizontal.bias, v_pre.dtype)
        offset = link + self._horizontal_constant(tf.shape(rows)[0], condition)[:, None, :]
        return gate(v_pre, self.color_channels), offset

    def horizontal_pixel(self, window, offset):
        """Horizontal stack at one pixel: (h' [B, F], skip [B, F]).

        ``window`` [B, k + 1, C_in] holds the horizontal input at columns j-k .. j of the
        row (zeros left of the image); ``offset`` [B, 2F] is that row's from
        :meth:`vertical_row` (or :meth:`first_row_offset`) at column j. The output and
        skip 1x1 convolutions run as one matrix product.
        """
        kernel = self.horizontal_kernel * ops.cast(self.horizontal_mask, self.horizontal_kernel.dtype)
        kernel = tf.cast(tf.reshape(kernel, [-1, 2 * self.filters]), window.dtype)
        flat = tf.reshape(window, [tf.shape(window)[0], -1])
        y = gate(tf.matmul(flat, kernel) + offset, self.color_channels)
        out_kernel = tf.concat([self.output_conv.kernel * self.output_conv.mask,
                                self.skip_conv.kernel * self.skip_conv.mask], axis=-1)[0, 0]
        out_bias = tf.concat([self.output_conv.bias, self.skip_conv.bias], axis=0)
        both = tf.matmul(y, tf.cast(out_kernel, y.dtype)) + tf.cast(out_bias, y.dtype)
        h_out, skip = both[:, : self.filters], both[:, self.filters :]
        if self.residual:
            h_out = h_out + window[:, -1]
        return h_out, skip

    def compute_output_shape(self, input_shape):
        v_shape, h_shape = input_shape
        out = (*tuple(h_shape)[:-1], self.filters)
        return (*tuple(v_shape)[:-1], self.filters), out, out

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            mask_type=self.mask_type,
            color_channels=self.color_channels,
            residual=self.residual,
            condition_dim=self.condition_dim,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config

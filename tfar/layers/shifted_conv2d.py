"""Down-shifted and down-right-shifted convolutions of PixelCNN++ (Salimans et al. 2017,
arXiv:1701.05517, sec. 2.4 and its reference code's ``down_shifted_conv2d``).

Instead of masking a kernel, the input is zero-padded on the top (and left) and a VALID
convolution is applied, so that output pixel (i, j) sees only

    "down":       rows i-kh+1 .. i, columns j-(kw-1)/2 .. j+(kw-1)/2  (kw odd)
    "down_right": rows i-kh+1 .. i, columns j-kw+1 .. j

The stream becomes strictly causal by :func:`down_shift` (output row i sees input rows < i)
or :func:`right_shift` (output (i, j) sees input columns < j of row i). With ``strides=2`` the
layer halves the resolution (ceil) while keeping the same causal footprint.

With ``weight_norm=True`` the kernel is ``g * v / ||v||`` per output channel and the layer
supports data-dependent initialisation (see :mod:`tfar.layers.weight_norm`).
"""

import keras
from keras import ops

from tfar.arg_checks import checked_int, int_pair, positive_int
from tfar.layers.weight_norm import WeightNorm, add_bias, check_weight_norm_args

SHIFTS = ("down", "down_right")


def down_shift(x):
    """Shift an NHWC map down by one row (zeros enter at the top, the last row drops)."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def right_shift(x):
    """Shift an NHWC map right by one column (zeros enter at the left)."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def check_shift_args(filters, kernel_size, shift, strides):
    """Validate the shared constructor arguments; return (filters, (kh, kw), strides)."""
    filters = positive_int("filters", filters)
    if shift not in SHIFTS:
        raise ValueError(f"shift must be one of {SHIFTS}, got {shift!r}")
    kh, kw = int_pair("kernel_size", kernel_size)
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be positive, got {kernel_size!r}")
    if shift == "down" and kw % 2 == 0:
        raise ValueError(f"a 'down' shifted kernel needs an odd width to be centred, got kernel_size={kernel_size!r}")
    return filters, (kh, kw), checked_int("strides", strides, "1 or 2", lambda s: s in (1, 2))


class ShiftedConvBase(WeightNorm, keras.layers.Layer):
    """Arguments, weights and config shared by :class:`ShiftedConv2D` and
    :class:`tfar.layers.shifted_conv2d_transpose.ShiftedConv2DTranspose`, which set the kernel layout.

    ``weight_norm=True`` adds a per-output-channel length ``g`` (the kernel is then its
    direction v) and ``init_scale``, the output standard deviation that data-dependent
    initialisation aims for.
    """

    def __init__(self, filters, kernel_size, shift, strides, use_bias, kernel_initializer, bias_initializer,
                 weight_norm=False, init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = check_shift_args(filters, kernel_size, shift, strides)
        self.shift = shift
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.weight_norm, self.init_scale = check_weight_norm_args(weight_norm, init_scale)

    def _kernel_shape(self, in_channels):
        raise NotImplementedError

    _output_channel_axis = -1  # of the kernel

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(f"{self.name}: the number of input channels must be known, got shape {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=self._kernel_shape(in_channels),
                                      initializer=self.kernel_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
        if self.weight_norm:
            self._build_weight_norm(self._output_channel_axis)

    def _kernel_for(self, dtype):
        """The kernel as the convolution uses it: weight-normalised or plain, in ``dtype``."""
        if self.weight_norm:
            return self._normalized_kernel(dtype)
        return ops.cast(self.kernel, dtype)

    def _add_bias(self, outputs):
        if self.weight_norm:
            return self._finish_weight_norm(outputs, self.bias)
        if self.bias is not None:
            outputs = add_bias(outputs, self.bias)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, shift=self.shift, strides=self.strides,
            use_bias=self.use_bias, kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer), weight_norm=self.weight_norm,
            init_scale=self.init_scale,
        )
        return config


@keras.saving.register_keras_serializable(package="tfar")
class ShiftedConv2D(ShiftedConvBase):
    """Conv2D whose receptive field lies above (``shift="down"``) or above-left (``"down_right"``).

    Args:
      filters: output channels.
      kernel_size: (kh, kw); PixelCNN++ uses (2, 3) for "down" and (2, 2) for "down_right".
      shift: "down" or "down_right".
      strides: 1, or 2 to halve height and width.
      weight_norm: kernel = g * v / ||v|| per output channel (Salimans & Kingma 2016).
      init_scale: output standard deviation after data-dependent initialisation.
    """

    def __init__(self, filters, kernel_size=(2, 3), shift="down", strides=1, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", weight_norm=False, init_scale=1.0,
                 **kwargs):
        super().__init__(filters, kernel_size, shift, strides, use_bias, kernel_initializer, bias_initializer,
                         weight_norm, init_scale, **kwargs)

    def _kernel_shape(self, in_channels):
        return (*self.kernel_size, in_channels, self.filters)

    def _padding(self):
        kh, kw = self.kernel_size
        if self.shift == "down":
            return [[0, 0], [kh - 1, 0], [(kw - 1) // 2, (kw - 1) // 2], [0, 0]]
        return [[0, 0], [kh - 1, 0], [kw - 1, 0], [0, 0]]

    def call(self, inputs):
        # VALID on the padded input keeps the size (stride 1) or gives ceil(size / 2) (stride 2)
        padded = ops.pad(inputs, self._padding())
        outputs = ops.conv(padded, self._kernel_for(inputs.dtype), strides=self.strides, padding="valid")
        return self._add_bias(outputs)

    # incremental evaluation (cached generation): the same outputs from exactly the inputs they see
    def call_rows(self, rows, padded=False):
        """One output row [B, W_out, filters] from its ``kh`` input rows [B, kh, W, C_in], oldest first.

        The rows are padded sideways as ``call`` pads them (``padded=True``: they already are),
        so the result equals row i of ``call`` when ``rows`` are the input rows i-kh+1 .. i
        (zeros above the image).
        """
        if not padded:
            rows = ops.pad(rows, [[0, 0], [0, 0], *self._padding()[2:]])
        outputs = ops.conv(rows, self._kernel_for(rows.dtype), strides=(1, self.strides), padding="valid")
        return self._add_bias(outputs[:, 0])

    def call_window(self, window):
        """One output pixel [B, filters] from its receptive field [B, kh, kw, C_in] (padding included)."""
        kh, kw = self.kernel_size
        size = kh * kw * window.shape[-1]
        kernel = ops.reshape(self._kernel_for(window.dtype), [size, self.filters])
        return self._add_bias(ops.matmul(ops.reshape(window, [-1, size]), kernel))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.strides == 2:
            h = None if h is None else (h + 1) // 2
            w = None if w is None else (w + 1) // 2
        return (b, h, w, self.filters)

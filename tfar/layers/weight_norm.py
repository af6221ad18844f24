"""Weight normalisation with data-dependent initialisation (Salimans & Kingma 2016,
"Weight Normalization", arXiv:1602.07868, sec. 2 and 3), as PixelCNN++ trains with it
(Salimans et al. 2017, arXiv:1701.05517, sec. 3):

    w = g * v / ||v||        (per output unit: the norm runs over every other kernel axis)

``v`` (the layer's ``kernel``) sets only the direction of each output unit's weights and
``g`` [units] their length. Data-dependent initialisation: on a first real batch every
layer, in forward order, computes its pre-activations with g = 1, t = (v / ||v||) . x,
takes their per-unit mean m and standard deviation s, and sets

    g = init_scale / s,    b = -m * init_scale / s

so that its outputs g * t + b have zero mean and standard deviation ``init_scale`` on that
batch; the next layer then sees normalised inputs.

This module is not a layer: :class:`WeightNorm` is the part shared by
:class:`tfar.layers.shifted_conv2d.ShiftedConvBase` and
:class:`tfar.layers.weight_norm_dense.WeightNormDense`.
"""

from keras import ops

EPSILON = 1e-8


def add_bias(outputs, bias):
    """``outputs + bias`` on the last axis, in the outputs' dtype.

    A broadcast ``+``, not ``tf.nn.bias_add``. bias_add's gradient (one BiasAddGrad, which
    TF's CPU optimiser can fold into a convolution's filter gradient) was about 3 % faster per
    PixelCNN++ training step, but it made Grappler's remapper fail on the training graph
    ("remapper failed: INVALID_ARGUMENT: Mutation::Apply error", next to concat_elu's custom
    gradient), and in 16-bit floats the CPU BiasAddGrad sums in that precision (bias gradients
    of the transposed convolutions 0.68 off in relative norm under mixed_bfloat16, against
    0.006 for the reduction of ``+``).
    """
    return outputs + ops.cast(bias, outputs.dtype)


def check_weight_norm_args(weight_norm, init_scale, init_scale_name="init_scale"):
    """Validate ``weight_norm`` (a bool) and ``init_scale`` (a positive number, named
    ``init_scale_name`` in the error); return both."""
    if not isinstance(weight_norm, bool):
        raise ValueError(f"weight_norm must be True or False, got {weight_norm!r}")
    if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not init_scale > 0:
        raise ValueError(f"{init_scale_name} must be a positive number, got {init_scale!r}")
    return weight_norm, float(init_scale)


class WeightNorm:
    """Mixin for a layer with weights ``kernel`` (v), ``g`` and ``bias``.

    The layer calls :meth:`_build_weight_norm` in ``build`` after creating ``kernel`` and
    ``bias``, multiplies its input by :meth:`_normalized_kernel`, and passes the result
    to :meth:`_finish_weight_norm`, which adds the bias (after a pending data-dependent
    initialisation has set ``g`` and ``bias`` from those very outputs).
    """

    def _build_weight_norm(self, output_axis):
        rank = len(self.kernel.shape)
        self._output_axis = output_axis % rank
        self._norm_axes = tuple(axis for axis in range(rank) if axis != self._output_axis)
        units = self.kernel.shape[self._output_axis]
        self.g = self.add_weight(name="g", shape=(units,), initializer="ones")
        self._init_pending = False

    def _normalized_kernel(self, dtype):
        """g * v / ||v|| in float32, cast to ``dtype`` (the layer's compute dtype)."""
        v = ops.convert_to_tensor(self.kernel)
        norm = ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes, keepdims=True) + EPSILON)
        shape = [1] * len(v.shape)
        shape[self._output_axis] = -1
        return ops.cast(v * (ops.reshape(self.g, shape) / norm), dtype)

    def begin_data_dependent_init(self):
        """Set g = 1 and mark the layer: its next call sets ``g`` and ``bias`` from its outputs."""
        self.g.assign(ops.ones_like(self.g))
        self._init_pending = True

    @property
    def data_dependent_init_pending(self):
        return self._init_pending

    def _finish_weight_norm(self, outputs, bias):
        """``outputs`` (computed with the normalised kernel) plus the bias, initialising first if pending."""
        if self._init_pending:
            t = ops.cast(outputs, "float32")
            axes = tuple(range(len(t.shape) - 1))
            mean, variance = ops.mean(t, axis=axes), ops.var(t, axis=axes)
            scale = self.init_scale / ops.sqrt(variance + EPSILON)
            self.g.assign(scale)
            if bias is not None:
                bias.assign(-mean * scale)
            self._init_pending = False
            return ops.cast((t - mean) * scale if bias is not None else t * scale, outputs.dtype)
        if bias is not None:
            outputs = add_bias(outputs, bias)
        return outputs

"""Weight-normalised dense layer (Salimans & Kingma 2016, arXiv:1602.07868): the
"network in network" 1x1 projection of PixelCNN++ (Salimans et al. 2017, arXiv:1701.05517)
when it trains with weight normalisation.

    y = x . (g * v / ||v||) + b      (||v|| per output unit, over the input axis)

Applied to the last axis of an input of any rank, like ``keras.layers.Dense``. Supports
data-dependent initialisation (see :mod:`tfar.layers.weight_norm`).
"""

import keras
from keras import ops

from tfar.arg_checks import positive_int
from tfar.layers.weight_norm import WeightNorm, check_weight_norm_args


@keras.saving.register_keras_serializable(package="tfar")
class WeightNormDense(WeightNorm, keras.layers.Layer):
    """Dense layer with kernel ``g * v / ||v||`` per output unit.

    Args:
      units: output size.
      use_bias: add a bias b.
      init_scale: output standard deviation after data-dependent initialisation.
      kernel_initializer: initialiser of the direction v (only its direction matters).
    """

    def __init__(self, units, use_bias=True, init_scale=1.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int("units", units)
        self.use_bias = bool(use_bias)
        _, self.init_scale = check_weight_norm_args(True, init_scale)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last input axis must be known, got shape {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None
        self._build_weight_norm(-1)

    def call(self, inputs):
        outputs = ops.matmul(inputs, self._normalized_kernel(inputs.dtype))
        return self._finish_weight_norm(outputs, self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, use_bias=self.use_bias, init_scale=self.init_scale,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config

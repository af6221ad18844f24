"""The shared checks must catch what they exist for."""

import pytest
import tensorflow as tf

from tfar.models import PixelCNN
from tfar.testing import assert_causal, max_step_error
from tfar.testing.causality import perturbation_violations


class LeakyPixelCNN(PixelCNN):
    """Adds a whole-image statistic to every output: later positions leak into earlier ones."""

    def network(self, h, condition=None, training=None):
        out = super().network(h, condition, training)
        return out + 0.1 * tf.reduce_mean(h, axis=[1, 2, 3], keepdims=True)


class FaintlyLeakyPixelCNN(PixelCNN):
    """A leak a million times weaker than the signal: still a leak."""

    def network(self, h, condition=None, training=None):
        out = super().network(h, condition, training)
        return out + 1e-6 * tf.reduce_mean(h, axis=[1, 2, 3], keepdims=True)


class GradientFreeLeakPixelCNN(PixelCNN):
    """The last pixel leaks into every output through an op without a gradient."""

    def network(self, h, condition=None, training=None):
        out = super().network(h, condition, training)
        return out + 0.1 * tf.stop_gradient(h[:, -1:, -1:, :])


class StaleStepPixelCNN(PixelCNN):
    """A step that never writes the previous value into its canvas."""

    def step(self, x_prev, state):
        return super().step(tf.zeros_like(x_prev), state)


def test_assert_causal_catches_a_leak():
    model = LeakyPixelCNN(image_shape=(4, 4, 1), num_levels=4, filters=4, num_residual_blocks=1, output_filters=4)
    with pytest.raises(AssertionError, match="depends on input position"):
        assert_causal(model)


def test_assert_causal_catches_a_faint_leak():
    """Exact zero, not "small": a leak of 1e-6 of the signal fails (a relative threshold let it through)."""
    model = FaintlyLeakyPixelCNN(image_shape=(4, 4, 1), num_levels=4, filters=4, num_residual_blocks=1,
                                 output_filters=4)
    with pytest.raises(AssertionError, match="depends on input position"):
        assert_causal(model)


def test_the_perturbation_check_probes_every_position():
    """A leak gradients cannot see, from the last position only, is found by changing each input in turn."""
    model = GradientFreeLeakPixelCNN(image_shape=(4, 4, 1), num_levels=4, filters=4, num_residual_blocks=1,
                                     output_filters=4)
    assert perturbation_violations(model) == [15]


def test_max_step_error_catches_a_step_that_forgets_its_input():
    model = StaleStepPixelCNN(image_shape=(4, 4, 1), num_levels=4, filters=4, num_residual_blocks=1,
                              output_filters=4)
    assert max_step_error(model) > 1e-3

"""Checks shared by the layer tests."""

import keras
import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture
def check_round_trip():
    """``check(layer, x)``: the config round-trips and the layer deserializes as its own class with equal outputs."""

    def check(layer, x):
        layer(x)
        cls = type(layer)
        clone = cls.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        import tfar.models.pixelrnn  # noqa: F401 - registers the models RowLSTM and DiagonalBiLSTM

        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(restored) is cls  # not the model: the layer is registered under its own name
        restored(x)
        restored.set_weights(layer.get_weights())
        np.testing.assert_allclose(restored(x).numpy(), layer(x).numpy(), atol=1e-6)

    return check


@pytest.fixture
def check_mixed_precision():
    """``check(make, x)``: ``make(dtype="mixed_float16")`` computes in float16 with float32 weights and,
    given the weights of ``make()``, matches its float32 outputs."""

    def check(make, x):
        full = make()
        full(x)
        half = make(dtype="mixed_float16")
        half(x)
        half.set_weights(full.get_weights())
        out = half(x)
        assert out.dtype == tf.float16
        assert all(weight.dtype == "float32" for weight in half.weights)
        np.testing.assert_allclose(out.numpy().astype(np.float32), full(x).numpy(), atol=2e-2)

    return check

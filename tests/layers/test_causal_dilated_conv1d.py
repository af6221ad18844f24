import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D


def reference(x, kernel, bias, dilation):
    """y[b, t, o] = bias[o] + sum_j sum_i kernel[j, i, o] x[b, t - (k-1-j) d, i] (zeros before t = 0)."""
    k = kernel.shape[0]
    batch, length, _ = x.shape
    y = np.tile(bias, (batch, length, 1)).astype(np.float64)
    for t in range(length):
        for j in range(k):
            s = t - (k - 1 - j) * dilation
            if s >= 0:
                y[:, t] += x[:, s] @ kernel[j]
    return y


@pytest.mark.parametrize("kernel_size,dilation", [(1, 1), (2, 1), (2, 4), (3, 2), (4, 3)])
def test_matches_numpy_reference(kernel_size, dilation):
    rng = np.random.default_rng(kernel_size * 10 + dilation)
    layer = CausalDilatedConv1D(5, kernel_size, dilation, bias_initializer="random_normal")
    x = rng.normal(size=(2, 17, 3)).astype(np.float32)
    y = layer(x).numpy()
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    assert np.abs(bias).max() > 0
    np.testing.assert_allclose(y, reference(x, kernel, bias, dilation), rtol=1e-5, atol=1e-5)
    assert layer.padding == (kernel_size - 1) * dilation


def test_output_never_depends_on_future_inputs():
    rng = np.random.default_rng(0)
    layer = CausalDilatedConv1D(4, 3, 2)
    x = rng.normal(size=(1, 20, 2)).astype(np.float32)
    base = layer(x).numpy()
    for t in (0, 7, 19):
        changed = x.copy()
        changed[:, t] += 1.0
        out = layer(changed).numpy()
        np.testing.assert_array_equal(out[:, :t], base[:, :t])
        assert np.abs(out[:, t] - base[:, t]).max() > 0


def test_step_equals_parallel_call():
    rng = np.random.default_rng(1)
    layer = CausalDilatedConv1D(3, 3, 2, bias_initializer="ones")
    x = rng.normal(size=(2, 12, 4)).astype(np.float32)
    full = layer(x).numpy()
    padded = np.pad(x, [[0, 0], [layer.padding, 0], [0, 0]])
    for t in range(12):
        taps = padded[:, t : t + layer.padding + 1 : 2]
        np.testing.assert_allclose(layer.step(tf.constant(taps)).numpy(), full[:, t], rtol=1e-5, atol=1e-5)


def test_get_config_round_trip():
    layer = CausalDilatedConv1D(7, 2, 8, use_bias=False, name="dil")
    config = layer.get_config()
    clone = CausalDilatedConv1D.from_config(config)
    assert clone.get_config() == config
    assert (clone.filters, clone.kernel_size, clone.dilation_rate, clone.use_bias) == (7, 2, 8, False)


def test_trains_inside_a_keras_model(tmp_path):
    inputs = keras.Input(shape=(None, 2))
    outputs = CausalDilatedConv1D(1, 2, 2)(CausalDilatedConv1D(4, 2, 1)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(2).normal(size=(8, 10, 2)).astype(np.float32)
    target = np.cumsum(x[..., :1], axis=1) * 0.1
    first = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=30, verbose=0)
    assert model.evaluate(x, target, verbose=0) < first
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(filters=0, kernel_size=2),
        dict(filters=2, kernel_size=0),
        dict(filters=2, kernel_size=2, dilation_rate=0),
        dict(filters=2.5, kernel_size=2),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match="must be a positive int"):
        CausalDilatedConv1D(**kwargs)

"""Weight normalisation (w = g v / ||v||) and data-dependent initialisation of the PixelCNN++ layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.layers.shifted_conv2d import ShiftedConv2D
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.layers.weight_norm_dense import WeightNormDense


def make_layers(**kwargs):
    return {
        "conv": (lambda **kw: ShiftedConv2D(6, (2, 3), "down", weight_norm=True, **kwargs, **kw), (3, 5, 5, 4)),
        "conv_strided": (lambda **kw: ShiftedConv2D(6, (2, 2), "down_right", strides=2, weight_norm=True, **kwargs,
                                                    **kw), (3, 5, 5, 4)),
        "transpose": (lambda **kw: ShiftedConv2DTranspose(6, (2, 3), "down", strides=2, weight_norm=True, **kwargs,
                                                          **kw), (3, 3, 4, 4)),
        "dense": (lambda **kw: WeightNormDense(6, **kwargs, **kw), (3, 5, 4)),
    }


def plain_twin(layer, x):
    """The same layer without weight normalisation, its kernel set to g v / ||v|| computed in NumPy."""
    v, g = layer.kernel.numpy().astype(np.float64), layer.g.numpy().astype(np.float64)
    axis = layer._output_axis
    norm = np.sqrt(np.sum(v**2, axis=tuple(a for a in range(v.ndim) if a != axis), keepdims=True))
    shape = [1] * v.ndim
    shape[axis] = -1
    w = (g.reshape(shape) * v / norm).astype(np.float32)
    if isinstance(layer, WeightNormDense):
        return lambda x: np.asarray(x) @ w + layer.bias.numpy()
    config = dict(layer.get_config(), weight_norm=False)
    twin = type(layer).from_config(config)
    twin(x)
    twin.set_weights([w, layer.bias.numpy()])
    return lambda x: twin(x).numpy()


@pytest.mark.parametrize("kind", ["conv", "conv_strided", "transpose", "dense"])
def test_kernel_is_g_times_unit_direction(kind):
    keras.utils.set_random_seed(0)
    make, shape = make_layers()[kind]
    layer = make()
    x = tf.random.normal(shape)
    layer(x)
    layer.g.assign(np.linspace(0.5, 2.0, 6).astype(np.float32))
    layer.bias.assign(np.linspace(-1.0, 1.0, 6).astype(np.float32))
    np.testing.assert_allclose(layer(x).numpy(), plain_twin(layer, x)(x), atol=1e-5)
    # only the direction of v matters: rescaling it per output unit leaves the outputs unchanged
    before = layer(x).numpy()
    scale = np.arange(1, 7, dtype=np.float32)
    shape_g = [1] * len(layer.kernel.shape)
    shape_g[layer._output_axis] = -1
    layer.kernel.assign(layer.kernel.numpy() * scale.reshape(shape_g))
    np.testing.assert_allclose(layer(x).numpy(), before, atol=1e-5)


@pytest.mark.parametrize("kind", ["conv", "conv_strided", "transpose", "dense"])
@pytest.mark.parametrize("init_scale", [1.0, 0.1])
def test_data_dependent_init_normalises_outputs(kind, init_scale):
    keras.utils.set_random_seed(1)
    make, shape = make_layers(init_scale=init_scale)[kind]
    layer = make()
    x = tf.random.normal(shape) * 3.0 + 2.0
    layer(x)
    layer.g.assign(tf.fill([6], 7.0))  # whatever g was, the init starts from g = 1
    layer.begin_data_dependent_init()
    assert layer.data_dependent_init_pending
    out = layer(x).numpy().reshape(-1, 6)
    assert not layer.data_dependent_init_pending
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), init_scale, rtol=1e-4)
    # the init set g and b: the next ordinary call gives the same outputs
    np.testing.assert_allclose(layer(x).numpy().reshape(-1, 6), out, atol=1e-5)


def test_data_dependent_init_in_mixed_precision():
    keras.utils.set_random_seed(2)
    layer = ShiftedConv2D(6, (2, 3), "down", weight_norm=True, dtype="mixed_float16")
    x = tf.random.normal([4, 6, 6, 3]) * 5.0
    layer(x)
    layer.begin_data_dependent_init()
    out = layer(x)
    assert out.dtype == tf.float16 and all(w.dtype == "float32" for w in layer.weights)
    out = out.numpy().astype(np.float32).reshape(-1, 6)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=5e-3)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=5e-3)


def test_weight_names_and_plain_layers_unchanged():
    conv = ShiftedConv2D(4, (2, 3), "down", weight_norm=True)
    conv(tf.zeros([1, 3, 3, 2]))
    assert [w.path.split("/")[-1] for w in conv.weights] == ["kernel", "bias", "g"]
    plain = ShiftedConv2D(4, (2, 3), "down")
    plain(tf.zeros([1, 3, 3, 2]))
    assert [w.path.split("/")[-1] for w in plain.weights] == ["kernel", "bias"]
    assert not hasattr(plain, "g")


def test_round_trip(check_round_trip):
    for kind, (make, shape) in make_layers(init_scale=0.5).items():
        check_round_trip(make(), tf.random.normal(shape))


def test_mixed_precision(check_mixed_precision):
    for kind, (make, shape) in make_layers().items():
        check_mixed_precision(make, tf.random.normal(shape))


@pytest.mark.parametrize("kwargs", [dict(weight_norm="yes"), dict(weight_norm=1), dict(init_scale=0.0),
                                    dict(init_scale=-1.0), dict(init_scale=True)])
def test_bad_arguments(kwargs):
    args = dict(weight_norm=True, init_scale=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match="weight_norm|init_scale"):
        ShiftedConv2D(4, (2, 3), "down", **args)
    with pytest.raises(ValueError, match="weight_norm|init_scale"):
        ShiftedConv2DTranspose(4, (2, 3), "down", **args)
    if "init_scale" in kwargs:
        with pytest.raises(ValueError, match="init_scale"):
            WeightNormDense(4, init_scale=kwargs["init_scale"])
    with pytest.raises(ValueError, match="units"):
        WeightNormDense(0)


@pytest.mark.parametrize("weight_norm", [False, True])
@pytest.mark.parametrize("kind", ["conv", "transpose"])
def test_bias_gradient_under_mixed_bfloat16_stays_close_to_float32(kind, weight_norm):
    """add_bias keeps ``+`` in 16-bit floats: the CPU BiasAddGrad sums there in bfloat16, which put the
    transposed convolutions' bias gradients 0.68 off (relative norm) inside PixelCNN++."""
    layer_class = ShiftedConv2D if kind == "conv" else ShiftedConv2DTranspose
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(16, 14, 14, 32)), tf.float32)
    cotangent = rng.normal(size=(16, 28, 28, 32) if kind == "transpose" else (16, 14, 14, 32))

    def bias_gradient(dtype, weights=None):
        layer = layer_class(32, (2, 2), "down_right", weight_norm=weight_norm, dtype=dtype,
                            **({"strides": 2} if kind == "transpose" else {}))
        layer(x)
        if weights is not None:
            layer.set_weights(weights)
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.constant(cotangent, tf.float32))
        return layer, tape.gradient(loss, layer.bias).numpy()

    full, want = bias_gradient(None)
    _, got = bias_gradient("mixed_bfloat16", full.get_weights())
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.05

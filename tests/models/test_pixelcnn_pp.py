"""PixelCNN++: per-pixel causality, normalization, sampling, round trips, and its layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.layers.gated_resnet import GatedResNet
from tfar.layers.shifted_conv2d import ShiftedConv2D
from tfar.layers.shifted_conv2d_transpose import ShiftedConv2DTranspose
from tfar.models.pixelcnn_pp import PixelCNNPlusPlus
from tfar.testing import assert_causal, total_probability

TINY = dict(num_resnet=1, num_hierarchies=2, num_filters=8, num_logistic_mix=2, dropout_p=0.0)


def make(image_shape, num_levels=256, seed=0, **overrides):
    tf.keras.utils.set_random_seed(seed)
    model = PixelCNNPlusPlus(image_shape, num_levels=num_levels, **dict(TINY, **overrides))
    model.build()
    return model


def pixel_dependencies(model, condition=None, seed=0):
    """Bool [P, P] over pixels in raster order: output pixel o depends on input pixel i."""
    h_, w_, c_ = model.image_shape
    n = h_ * w_
    x = np.random.default_rng(seed).integers(0, model.num_levels, size=[1, h_, w_, c_])
    h = tf.cast(model.embed_input(np.repeat(x, n, axis=0)), tf.float32)
    labels = None if condition is None else tf.fill([n], condition)
    with tf.GradientTape() as tape:
        tape.watch(h)
        params = tf.reshape(model.network(h, labels, training=False), [n, n, -1])
        picked = tf.reduce_sum(params * tf.one_hot(tf.range(n), n)[:, :, None])
    grads = tf.reduce_max(tf.abs(tf.reshape(tape.gradient(picked, h), [n, n, c_])), axis=-1).numpy()
    return grads > 1e-6 * grads.max()


def assert_pixel_causal(model, condition=None):
    deps = pixel_dependencies(model, condition)
    future = np.argwhere(np.triu(deps))
    assert future.size == 0, f"output pixel {future[0][0]} depends on input pixel {future[0][1]}"
    return deps


def perturbation_check(model, condition=None, seed=1):
    """Changing pixel q (all channels) must not change the outputs at pixels <= q."""
    h_, w_, c_ = model.image_shape
    rng = np.random.default_rng(seed)
    x = rng.integers(0, model.num_levels, size=[1, h_, w_, c_])
    labels = None if condition is None else np.array([condition])
    base = model(x, condition=labels).numpy().reshape(h_ * w_, -1)
    for q in range(h_ * w_):
        changed = x.reshape(h_ * w_, c_).copy()
        changed[q] = (changed[q] + 1 + rng.integers(0, model.num_levels - 1, size=c_)) % model.num_levels
        out = model(changed.reshape(x.shape), condition=labels).numpy().reshape(h_ * w_, -1)
        np.testing.assert_allclose(out[: q + 1], base[: q + 1], atol=1e-5, err_msg=f"pixel {q}")
        assert not np.allclose(out[q + 1 :], base[q + 1 :], atol=1e-6) or q == h_ * w_ - 1


# ------------------------------------------------------------------ model
def test_output_shapes():
    model = make((5, 4, 3))
    x = np.random.default_rng(0).integers(0, 256, size=[2, 5, 4, 3])
    assert model(x).shape == (2, 5, 4, model.head.params_per_value) == (2, 5, 4, 20)
    assert model.position_shape == (3,) and model.num_positions() == 20
    assert model.event_shape == (5, 4, 3)
    log_p, bpd = model.log_prob(x).numpy(), model.bits_per_dim(x).numpy()
    assert log_p.shape == (2,) and np.all(np.isfinite(log_p)) and np.all(log_p < 0)
    np.testing.assert_allclose(bpd, -log_p / (60 * np.log(2)), rtol=1e-5)


@pytest.mark.parametrize("image_shape", [(5, 5, 1), (4, 4, 3)])
def test_causal_with_shared_helper(image_shape):
    model = make(image_shape)
    deps = assert_causal(model)  # positions are whole pixels: all channels are drawn together
    # full receptive field: every earlier pixel feeds every later one
    assert np.array_equal(deps, np.tril(np.ones_like(deps), k=-1))


@pytest.mark.parametrize("image_shape,num_classes", [((5, 5, 1), None), ((4, 5, 3), None), ((4, 4, 3), 3)])
def test_pixel_causality(image_shape, num_classes):
    model = make(image_shape, num_classes=num_classes)
    condition = None if num_classes is None else 2
    deps = assert_pixel_causal(model, condition)
    n = deps.shape[0]
    # no blind spot: every output pixel sees every earlier pixel
    assert np.array_equal(deps, np.tril(np.ones([n, n], bool), k=-1))
    perturbation_check(model, condition)


def test_receptive_field_is_not_trivially_full_of_future():
    """The check itself must fail on a non-causal network (sanity of the helper)."""
    model = make((3, 3, 1))

    class Leaky(PixelCNNPlusPlus):
        def network(self, h, condition=None, training=None):
            return super().network(h, condition, training) + tf.reduce_sum(h) * 0.1

    leaky = Leaky((3, 3, 1), **TINY)
    leaky.build()
    leaky.set_weights(model.get_weights())
    with pytest.raises(AssertionError):
        assert_pixel_causal(leaky)


@pytest.mark.parametrize("image_shape,levels", [((2, 1, 1), 8), ((1, 1, 3), 4), ((2, 2, 1), 4)])
def test_total_probability_is_one(image_shape, levels):
    model = make(image_shape, num_levels=levels)
    assert abs(total_probability(model) - 1.0) < 1e-4


def test_total_probability_conditional():
    model = make((2, 1, 1), num_levels=8, num_classes=2)
    assert abs(total_probability(model, condition=1) - 1.0) < 1e-4


def test_fast_equals_naive_rgb():
    model = make((2, 3, 3), num_levels=16)
    fast = model.sample(3, seed=5).numpy()
    naive = model.sample(3, seed=5, method="naive").numpy()
    assert fast.shape == (3, 2, 3, 3) and fast.dtype == np.int32
    np.testing.assert_array_equal(fast, naive)
    assert (model.sample(3, seed=6).numpy() != fast).any()


def test_fast_equals_naive_conditional_prefix_temperature():
    model = make((4, 3, 1), num_classes=3)
    prefix = np.random.default_rng(0).integers(0, 256, size=[2, 2, 3, 1])
    kwargs = dict(condition=np.array([0, 2]), seed=3, prefix=prefix, temperature=0.7)
    fast = model.sample(2, **kwargs).numpy()
    np.testing.assert_array_equal(fast, model.sample(2, method="naive", **kwargs).numpy())
    np.testing.assert_array_equal(fast[:, :2], prefix)


def test_config_round_trip_and_save_load(tmp_path):
    model = make((4, 4, 3), num_classes=2, dropout_p=0.3)
    config = model.get_config()
    for key, value in dict(image_shape=[4, 4, 3], num_levels=256, num_classes=2, dropout_p=0.3, **{
            k: v for k, v in TINY.items() if k != "dropout_p"}).items():
        assert config[key] == value, key
    clone = PixelCNNPlusPlus.from_config(config)
    assert clone.get_config() == config
    x = np.random.default_rng(0).integers(0, 256, size=[2, 4, 4, 3])
    labels = np.array([0, 1])
    path = str(tmp_path / "pcpp.keras")
    model.save(path)
    import keras

    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x, labels).numpy(), model.log_prob(x, labels).numpy(), rtol=1e-6)


def test_fit_reduces_loss_and_dropout_is_active_in_training():
    model = make((4, 4, 1), num_levels=16, dropout_p=0.5)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).integers(0, 4, size=[16, 4, 4, 1])  # only low values: learnable
    before = float(np.mean(model.bits_per_dim(x)))
    history = model.fit(x, batch_size=16, epochs=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert float(np.mean(model.bits_per_dim(x))) < before
    a = model(x[:2], training=True).numpy()
    b = model(x[:2], training=True).numpy()
    assert not np.allclose(a, b)  # dropout draws fresh masks
    np.testing.assert_array_equal(model(x[:2]).numpy(), model(x[:2]).numpy())


@pytest.mark.parametrize("kwargs", [
    dict(num_levels=100), dict(num_resnet=0), dict(num_hierarchies=0), dict(num_filters=-1),
    dict(num_logistic_mix=0), dict(dropout_p=1.0), dict(image_shape=(4, 4, 2)),
])
def test_bad_arguments(kwargs):
    args = dict(image_shape=(4, 4, 1), **TINY)
    args.update(kwargs)
    with pytest.raises(ValueError):
        PixelCNNPlusPlus(**args)


def test_bad_input_is_rejected():
    model = make((3, 3, 1))
    with pytest.raises(ValueError):
        model.log_prob(np.full([1, 3, 3, 1], 256))
    with pytest.raises(ValueError):
        model.log_prob(np.zeros([1, 3, 4, 1], np.int32))


# ----------------------------------------------------------------- layers
def footprint(layer, in_shape, out_index):
    """Bool [H, W] of the input pixels that output pixel ``out_index`` depends on."""
    x = tf.random.normal([1, *in_shape])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        picked = tf.reduce_sum(y[0, out_index[0], out_index[1]])
    return np.abs(tape.gradient(picked, x).numpy()[0]).max(axis=-1) > 0


def test_shifted_conv_footprints():
    tf.keras.utils.set_random_seed(0)
    down = footprint(ShiftedConv2D(4, (2, 3), "down"), (5, 5, 2), (2, 2))
    expected = np.zeros([5, 5], bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(down, expected)
    down_right = footprint(ShiftedConv2D(4, (2, 2), "down_right"), (5, 5, 2), (2, 2))
    expected = np.zeros([5, 5], bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(down_right, expected)


@pytest.mark.parametrize("shift,kernel", [("down", (2, 3)), ("down_right", (2, 2))])
def test_strided_and_transposed_shapes_and_order(shift, kernel):
    tf.keras.utils.set_random_seed(0)
    for size, half in ((4, 2), (5, 3)):
        assert ShiftedConv2D(3, kernel, shift, strides=2)(tf.zeros([2, size, size, 2])).shape == (2, half, half, 3)
    up = ShiftedConv2DTranspose(3, kernel, shift, strides=2)
    assert up(tf.zeros([2, 3, 4, 2])).shape == (2, 6, 8, 3)
    # upsampled pixel (i, j) only receives low-resolution pixels at rows <= i // 2
    seen = footprint(up, (3, 3, 2), (2, 3))
    assert not seen[2:].any() and seen[1].any()
    if shift == "down_right":
        assert not seen[:, 2:].any()


def test_layer_config_round_trips():
    layers = [
        ShiftedConv2D(6, (2, 2), "down_right", strides=2, name="a"),
        ShiftedConv2DTranspose(5, (2, 3), "down", strides=2, name="b"),
        GatedResNet(4, (2, 3), "down", dropout_p=0.2, auxiliary=True, num_classes=3, name="c"),
    ]
    for layer in layers:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    block = layers[2]
    out = block(tf.ones([2, 3, 3, 4]), a=tf.ones([2, 3, 3, 7]), condition=tf.one_hot([0, 2], 3))
    assert out.shape == (2, 3, 3, 4)


@pytest.mark.parametrize("kwargs", [
    dict(filters=0), dict(shift="up"), dict(kernel_size=(2, 2), shift="down"), dict(strides=3),
])
def test_shifted_conv_bad_arguments(kwargs):
    args = dict(filters=4, kernel_size=(2, 3), shift="down", strides=1)
    args.update(kwargs)
    with pytest.raises(ValueError):
        ShiftedConv2D(**args)
    with pytest.raises(ValueError):
        ShiftedConv2DTranspose(**args) if "strides" not in kwargs else ShiftedConv2D(**args)


def test_gated_resnet_dropout_rate_and_scaling():
    block = GatedResNet(4, dropout_p=0.3)
    y = block._dropout(tf.ones([32, 16, 16, 16]), training=True).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    y2 = block._dropout(tf.ones([32, 16, 16, 16]), training=True).numpy()
    assert not np.array_equal(y == 0, y2 == 0)  # a fresh mask per call
    np.testing.assert_array_equal(block._dropout(tf.ones([2, 2]), training=False).numpy(), np.ones([2, 2]))


def test_gated_resnet_bad_arguments_and_inputs():
    with pytest.raises(ValueError):
        GatedResNet(4, dropout_p=1.0)
    with pytest.raises(ValueError):
        GatedResNet(4, num_classes=0)
    block = GatedResNet(4, auxiliary=True)
    with pytest.raises(ValueError):
        block(tf.ones([1, 3, 3, 4]))  # auxiliary input missing
    with pytest.raises(ValueError):
        GatedResNet(4)(tf.ones([1, 3, 3, 5]))  # wrong channel count


# ------------------------------------------------- weight normalisation
def test_weight_norm_model_is_causal_after_data_dependent_init():
    model = make((4, 4, 3), num_classes=3, weight_norm=True)
    x = np.random.default_rng(0).integers(0, 256, size=[6, 4, 4, 3])
    assert model.data_dependent_init(x, condition=np.array([0, 1, 2, 0, 1, 2])) > 0
    deps = assert_pixel_causal(model, condition=1)
    assert np.array_equal(deps, np.tril(np.ones_like(deps), k=-1))


def test_data_dependent_init_normalises_the_network_output():
    model = make((6, 5, 1), num_classes=2, weight_norm=True)
    x = np.random.default_rng(1).integers(0, 256, size=[8, 6, 5, 1])
    labels = np.arange(8) % 2
    weights = [w.numpy() for w in model.weights]
    layers = model.data_dependent_init(x, condition=labels)
    names = {w.path for w in model.weights if w.path.endswith("/g")}
    assert layers == len(names) > 10  # every convolution and projection has its g
    changed = [w.path for w, before in zip(model.weights, weights) if not np.array_equal(w.numpy(), before)]
    assert names <= set(changed)
    # the last layer (output_dense) was initialised last, on the features of all the others
    raw = model.network(model.embed_input(tf.constant(x)), tf.constant(labels), training=False).numpy()
    raw = raw.reshape(-1, raw.shape[-1])
    np.testing.assert_allclose(raw.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(raw.std(axis=0), 1.0, rtol=1e-3)


def test_data_dependent_init_without_weight_norm_changes_nothing():
    model = make((4, 4, 1))
    weights = [w.numpy() for w in model.weights]
    assert model.data_dependent_init(np.zeros([2, 4, 4, 1], np.int32)) == 0
    for w, before in zip(model.weights, weights):
        np.testing.assert_array_equal(w.numpy(), before)
    from tfar.models.pixelcnn import PixelCNN

    other = PixelCNN((4, 4, 1), filters=4, num_residual_blocks=1, output_filters=8, kernel_size=3)
    assert other.data_dependent_init(np.zeros([2, 4, 4, 1], np.int32)) == 0 and other.built


def test_data_dependent_init_checks_its_input():
    model = make((4, 4, 1), weight_norm=True, num_classes=2)
    with pytest.raises(ValueError):
        model.data_dependent_init(np.full([2, 4, 4, 1], 256), condition=np.array([0, 1]))
    with pytest.raises(ValueError):
        model.data_dependent_init(np.zeros([2, 4, 4, 1], np.int32))  # condition missing


def test_data_dependent_init_in_mixed_precision():
    model = make((4, 4, 1), weight_norm=True, dtype="mixed_bfloat16")
    x = np.random.default_rng(2).integers(0, 256, size=[8, 4, 4, 1])
    model.data_dependent_init(x)
    assert all(w.dtype == "float32" for w in model.weights)
    raw = model.network(model.embed_input(tf.constant(x)), None, training=False)
    assert raw.dtype == tf.bfloat16
    raw = tf.cast(raw, tf.float32).numpy().reshape(-1, raw.shape[-1])
    np.testing.assert_allclose(raw.std(axis=0), 1.0, rtol=0.05)
    assert np.all(np.isfinite(model.log_prob(x).numpy()))


def test_weight_norm_config_save_load_and_fit_with_ema(tmp_path):
    import keras

    model = make((4, 4, 1), num_levels=16, weight_norm=True, num_classes=2)
    assert model.get_config()["weight_norm"] is True
    assert PixelCNNPlusPlus.from_config(model.get_config()).get_config() == model.get_config()
    x = np.random.default_rng(0).integers(0, 4, size=[16, 4, 4, 1])
    labels = np.arange(16) % 2
    model.data_dependent_init(x, condition=labels)
    # Adam's 1e-3, the recipe's rate: at 1e-2 this toy diverges from the default unit-std init
    # (and not from output_init_scale=0.1; bench/README.md, "Initialisation")
    model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
    before = float(np.mean(model.bits_per_dim(x, labels)))
    model.fit(x, labels, batch_size=16, epochs=5, verbose=0)
    assert float(np.mean(model.bits_per_dim(x, labels))) < before
    path = str(tmp_path / "wn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x, labels).numpy(), model.log_prob(x, labels).numpy(), rtol=1e-5)


def test_bad_weight_norm_argument():
    with pytest.raises(ValueError, match="weight_norm"):
        PixelCNNPlusPlus((4, 4, 1), weight_norm="yes", **TINY)
    for bad in (0.0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="output_init_scale"):
            PixelCNNPlusPlus((4, 4, 1), weight_norm=True, output_init_scale=bad, **TINY)
        with pytest.raises(ValueError, match="output_init_scale"):
            GatedResNet(4, weight_norm=True, output_init_scale=bad)


def test_mixture_scale_option_reaches_the_head_and_the_config():
    model = make((4, 4, 1), num_levels=16, mixture_scale="softplus")
    assert model.head.scale == "softplus" and model.get_config()["mixture_scale"] == "softplus"
    assert PixelCNNPlusPlus.from_config(model.get_config()).head.scale == "softplus"
    assert make((4, 4, 1)).head.scale == "exp"
    x = np.random.default_rng(4).integers(0, 16, size=[2, 4, 4, 1])
    params = model(x)
    np.testing.assert_allclose(model.log_prob(x).numpy(), model.head.log_prob(params, x).numpy().sum(axis=(1, 2)),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="scale must be one of"):
        PixelCNNPlusPlus((4, 4, 1), mixture_scale="log", **TINY)


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_gated_block_output_init_scale(scale):
    """Data-dependent init gives the block's second convolution outputs of std output_init_scale."""
    block = GatedResNet(4, weight_norm=True, output_init_scale=scale, dropout_p=0.0)
    x = tf.constant(np.random.default_rng(3).normal(size=[8, 5, 5, 4]), tf.float32)
    block(x)
    for layer in (block.conv_in, block.conv_out):
        layer.begin_data_dependent_init()
    block(x)
    assert not block.conv_out.data_dependent_init_pending
    from tfar.layers.gated_resnet import concat_elu

    out = block.conv_out(concat_elu(block.conv_in(concat_elu(x)))).numpy().reshape(-1, 8)
    np.testing.assert_allclose(out.std(axis=0), scale, rtol=1e-3)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    assert GatedResNet.from_config(block.get_config()).output_init_scale == scale


def test_model_passes_output_init_scale_to_every_gated_block():
    model = make((4, 4, 1), weight_norm=True, output_init_scale=0.1)
    blocks = [layer for layer in model._flatten_layers() if isinstance(layer, GatedResNet)]
    assert len(blocks) > 4 and all(b.output_init_scale == 0.1 and b.conv_out.init_scale == 0.1 for b in blocks)
    assert PixelCNNPlusPlus.from_config(model.get_config()).output_init_scale == 0.1
    default = make((4, 4, 1), weight_norm=True)  # tfp's unit-std init, which learned faster (bench/README.md)
    assert {b.conv_out.init_scale for b in default._flatten_layers() if isinstance(b, GatedResNet)} == {1.0}


# ------------------------------------------------------------ cached step
def teacher_forced_step_error(model, x, condition=None, jit_compile=False):
    """Max |cached step params - full pass params| over every pixel, feeding the true pixels."""
    batch, h_, w_, c_ = x.shape
    full = model(x, condition=condition).numpy().reshape(batch, h_ * w_, -1)
    state = model.initial_state(batch, condition=None if condition is None else tf.constant(condition))
    step = tf.function(model.step, jit_compile=jit_compile)
    flat, previous, errors = x.reshape(batch, h_ * w_, c_), np.zeros([batch, c_], np.int32), []
    for t in range(h_ * w_):
        params, state = step(tf.constant(previous), state)
        errors.append(np.abs(params.numpy() - full[:, t]).max())
        previous = flat[:, t]
    return np.array(errors)


@pytest.mark.parametrize("image_shape,num_hierarchies,num_resnet,num_classes", [
    ((5, 7, 1), 3, 1, None),  # odd sizes at every level: 5x7 -> 3x4 -> 2x2
    ((6, 5, 3), 2, 2, 3),  # RGB, conditional, two blocks per level
    ((3, 4, 1), 1, 1, 2),  # one level: no strided or transposed layers
])
def test_cached_step_equals_full_pass_at_every_pixel(image_shape, num_hierarchies, num_resnet, num_classes):
    model = make(image_shape, num_hierarchies=num_hierarchies, num_resnet=num_resnet, num_classes=num_classes)
    x = np.random.default_rng(0).integers(0, 256, size=[2, *image_shape]).astype(np.int32)
    condition = None if num_classes is None else np.array([0, num_classes - 1], np.int32)
    errors = teacher_forced_step_error(model, x, condition)
    assert errors.max() < 1e-4, f"pixel {errors.argmax()} differs by {errors.max()}"


def test_cached_step_under_xla_and_weight_norm():
    # XLA compiles the step again for every new position, so the image is as small as still has a
    # coarser level (3x3 -> 2x2: a strided and a transposed layer, the nested row cond); the three-level
    # recursion is checked at every pixel without XLA above
    model = make((3, 3, 1), num_hierarchies=2, num_classes=2, weight_norm=True)
    x = np.random.default_rng(1).integers(0, 256, size=[3, 3, 3, 1]).astype(np.int32)
    model.data_dependent_init(x, condition=np.array([0, 1, 1]))
    errors = teacher_forced_step_error(model, x, np.array([0, 1, 1], np.int32), jit_compile=True)
    assert errors.max() < 1e-4, f"pixel {errors.argmax()} differs by {errors.max()}"


def test_cached_state_holds_no_image_sized_tensor():
    """The state is caches of two rows at most: nothing grows with the image height."""
    for height in (4, 12):
        model = make((height, 6, 3), num_hierarchies=2, num_classes=2)
        state = model.initial_state(2, condition=tf.constant([0, 1]))
        per_example = {"/".join(map(str, k)): int(np.prod(v.shape[1:]))
                       for k, v in keras.tree.flatten_with_path(state) if v.shape.rank}
        assert "canvas" not in state
        assert max(per_example.values()) <= 2 * (6 + 2) * 2 * model.num_filters, per_example
        sizes = sorted(per_example.items())
        if height == 4:
            small = sizes
    assert sizes == small  # the same caches whatever the height


def test_fast_equals_naive_odd_sizes_three_levels():
    model = make((5, 3, 1), num_hierarchies=3, num_classes=2)
    kwargs = dict(condition=np.array([1, 0]), seed=9)
    fast = model.sample(2, **kwargs).numpy()
    np.testing.assert_array_equal(fast, model.sample(2, method="naive", **kwargs).numpy())


# ----------------------------------------------------- without the boundary channel (as tfp)
def test_without_boundary_channel_causal_exact_and_cached():
    """boundary_channel=False: no ones channel, and still causal, normalised, and fast == naive."""
    model = make((4, 4, 3), num_classes=3, boundary_channel=False)
    assert model.init_u.kernel.shape[2] == 3 and make((4, 4, 3)).init_u.kernel.shape[2] == 4
    deps = assert_pixel_causal(model, condition=1)
    assert np.array_equal(deps, np.tril(np.ones_like(deps), k=-1))
    x = np.random.default_rng(5).integers(0, 256, size=[2, 4, 4, 3]).astype(np.int32)
    condition = np.array([0, 2], np.int32)
    errors = teacher_forced_step_error(model, x, condition)
    assert errors.max() < 1e-4, f"pixel {errors.argmax()} differs by {errors.max()}"
    kwargs = dict(condition=condition, seed=4)
    np.testing.assert_array_equal(model.sample(2, **kwargs).numpy(), model.sample(2, method="naive", **kwargs).numpy())
    small = make((2, 1, 1), num_levels=8, boundary_channel=False)
    assert abs(total_probability(small) - 1.0) < 1e-4
    assert PixelCNNPlusPlus.from_config(model.get_config()).boundary_channel is False
    with pytest.raises(ValueError, match="boundary_channel"):
        PixelCNNPlusPlus((4, 4, 1), boundary_channel="no", **TINY)

"""GatedPixelCNN: causality, normalization, conditioning, sampling, save/load, training."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfar.data
from tfar.models.gated_pixelcnn import GatedPixelCNN
from tfar.testing import (
    assert_causal, max_step_error, total_probability,
)


def tiny(image_shape=(4, 4, 1), num_levels=8, num_classes=None, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    config = dict(num_layers=3, filters=12, kernel_size=3, input_kernel_size=3, output_filters=24)
    config.update(kwargs)
    model = GatedPixelCNN(image_shape=image_shape, num_levels=num_levels, num_classes=num_classes, **config)
    model.build()
    return model


def labels(n, num_classes):
    return np.arange(n, dtype=np.int32) % num_classes


# ------------------------------------------------------------------ structure
def test_config_round_trip_and_shapes():
    model = tiny((4, 5, 3), num_levels=16, num_classes=3, num_layers=4)
    config = model.get_config()
    for key, value in dict(image_shape=[4, 5, 3], num_levels=16, num_layers=4, filters=12, kernel_size=3,
                           input_kernel_size=3, output_filters=24, num_classes=3).items():
        assert config[key] == value
    clone = GatedPixelCNN.from_config(config)
    assert clone.get_config() == config
    x = np.zeros([2, 4, 5, 3], np.int32)
    assert tuple(model(x, condition=labels(2, 3)).shape) == (2, 4, 5, 3, 16)
    assert model.event_shape == (4, 5, 3) and model.num_levels == 16 and model.num_classes == 3
    assert [b.mask_type for b in model.blocks] == ["A", "B", "B", "B"]
    assert [b.residual for b in model.blocks] == [False, True, True, True]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(num_layers=0), "num_layers"),
        (dict(filters=-4), "-4"),
        (dict(kernel_size=4), "kernel_size must be an odd"),
        (dict(input_kernel_size=1), "input_kernel_size=1"),
        (dict(image_shape=(4, 4, 2)), "(4, 4, 2)"),
        (dict(image_shape=(4, 4, 3), filters=8), "filters=8"),
        (dict(image_shape=(4, 4, 3), filters=6, output_filters=10), "output_filters=10"),
        (dict(num_levels=1), "num_levels"),
        (dict(num_classes=0), "num_classes"),
    ],
)
def test_bad_arguments_raise(kwargs, needle):
    with pytest.raises(ValueError) as info:
        GatedPixelCNN(**kwargs)
    assert needle in str(info.value)


def test_condition_checks():
    model = tiny(num_classes=3)
    x = np.zeros([2, 4, 4, 1], np.int32)
    with pytest.raises(ValueError, match="label 3"):
        model.log_prob(x, condition=[0, 3])
    with pytest.raises(ValueError, match="conditions on 3 classes"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="unconditional"):
        tiny().log_prob(x, condition=[0, 1])


def test_every_weight_receives_a_gradient():
    model = tiny((3, 3, 3), num_classes=3, filters=6, output_filters=6)
    x = np.random.default_rng(0).integers(0, 8, size=[4, 3, 3, 3]).astype(np.int32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x, condition=labels(4, 3)))
    grads = tape.gradient(loss, model.trainable_variables)
    unused = [v.path for v, g in zip(model.trainable_variables, grads) if g is None or not np.any(g.numpy())]
    assert not unused, unused


# ------------------------------------------------------------------ causality
@pytest.mark.parametrize("image_shape", [(4, 4, 1), (3, 3, 3)])
@pytest.mark.parametrize("num_classes", [None, 3])
def test_causal_at_random_init(image_shape, num_classes):
    model = tiny(image_shape, num_classes=num_classes, seed=1)
    deps = assert_causal(model, condition=None if num_classes is None else 2)
    # every strictly earlier sub-pixel is seen (the receptive field covers these tiny images)
    n = deps.shape[0]
    assert deps[np.tril_indices(n, -1)].all()


# -------------------------------------------------------------- normalization
@pytest.mark.parametrize("image_shape, num_levels", [((2, 2, 1), 2), ((1, 1, 3), 4)])
def test_normalized_for_each_class(image_shape, num_levels):
    model = tiny(image_shape, num_levels=num_levels, num_classes=3, filters=6, output_filters=6)
    totals = [total_probability(model, condition=c) for c in range(3)]
    np.testing.assert_allclose(totals, 1.0, atol=1e-5)
    uncond = tiny(image_shape, num_levels=num_levels, filters=6, output_filters=6)
    assert abs(total_probability(uncond) - 1.0) < 1e-5


def test_label_changes_log_prob():
    model = tiny(num_classes=3)
    x = np.random.default_rng(0).integers(0, 8, size=[3, 4, 4, 1]).astype(np.int32)
    by_label = np.stack([model.log_prob(x, condition=np.full([3], c, np.int32)).numpy() for c in range(3)])
    assert np.abs(by_label[0] - by_label[1]).min() > 1e-4
    assert np.abs(by_label[1] - by_label[2]).min() > 1e-4
    # the label of one example does not leak into another
    mixed = model.log_prob(x, condition=np.array([0, 1, 2], np.int32)).numpy()
    np.testing.assert_allclose(mixed, by_label[[0, 1, 2], [0, 1, 2]], rtol=1e-5)


# ------------------------------------------------------------------- sampling
@pytest.mark.parametrize("method", ["fast", "naive"])
def test_prefix_rows_kept_exactly(method):
    model = tiny((4, 3, 3), num_classes=2, filters=6, output_filters=6)
    prefix = np.random.default_rng(2).integers(0, 8, size=[3, 2, 3, 3]).astype(np.int32)
    out = model.sample(3, condition=labels(3, 2), prefix=prefix, seed=5, method=method).numpy()
    assert out.shape == (3, 4, 3, 3)
    np.testing.assert_array_equal(out[:, :2], prefix)
    assert out.min() >= 0 and out.max() < 8


def greedy_decode(model, condition):
    """Argmax path written against the model's logits: one full forward pass per sub-pixel."""
    h, w, c = model.event_shape
    canvas = np.zeros([len(condition), h, w, c], np.int32)
    for i in range(h):
        for j in range(w):
            for k in range(c):
                logits = model(canvas, condition=condition).numpy()
                canvas[:, i, j, k] = logits[:, i, j, k].argmax(-1)
    return canvas


def test_temperature_to_zero_gives_the_argmax_path():
    model = tiny((3, 3, 3), num_levels=8, num_classes=3, filters=6, output_filters=6)
    # strong label projections so that different labels take different argmax paths
    for block in model.blocks:
        for dense in (block.vertical_condition, block.horizontal_condition):
            dense.kernel.assign(dense.kernel * 5.0)
    condition = labels(6, 3)
    greedy = greedy_decode(model, condition)
    cold = model.sample(6, condition=condition, seed=3, temperature=1e-5).numpy()
    np.testing.assert_array_equal(cold, greedy)
    assert not np.array_equal(greedy[0], greedy[1])  # the label steers the path
    warm = model.sample(6, condition=condition, seed=3, temperature=1.0).numpy()
    assert not np.array_equal(warm, greedy)


def randomized(model, seed=1):
    """``model`` with normal(0, 0.5) weights: logits far from uniform, so a wrong step shows in samples."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    return model


@pytest.mark.parametrize("image_shape, num_levels, num_classes", [((4, 3, 1), 2, None), ((3, 3, 3), 8, 3)])
def test_fast_equals_naive(image_shape, num_levels, num_classes):
    model = tiny(image_shape, num_levels=num_levels, num_classes=num_classes)
    condition = None if num_classes is None else labels(4, num_classes)
    fast = model.sample(4, condition=condition, seed=11, method="fast").numpy()
    naive = model.sample(4, condition=condition, seed=11, method="naive").numpy()
    np.testing.assert_array_equal(fast, naive)
    other = model.sample(4, condition=condition, seed=12, method="fast").numpy()
    assert not np.array_equal(fast, other)


@pytest.mark.parametrize("image_shape, num_classes", [((5, 4, 1), None), ((4, 3, 3), 3)])
def test_fast_equals_naive_with_a_prefix_and_across_rows(image_shape, num_classes):
    model = randomized(tiny(image_shape, num_classes=num_classes, input_kernel_size=5))
    condition = None if num_classes is None else labels(4, num_classes)
    prefix = np.random.default_rng(2).integers(0, 8, size=[4, 1, *image_shape[1:]]).astype(np.int32)
    for kwargs in (dict(), dict(prefix=prefix)):
        fast = model.sample(4, condition=condition, seed=4, temperature=0.1, **kwargs).numpy()
        naive = model.sample(4, condition=condition, seed=4, temperature=0.1, method="naive", **kwargs).numpy()
        np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast[:, :1], prefix)


@pytest.mark.parametrize("image_shape, num_classes", [((7, 6, 1), None), ((4, 5, 3), 3)])
@pytest.mark.parametrize("jit_compile", [None, True], ids=["eager", "xla"])
def test_cached_step_matches_the_full_network(image_shape, num_classes, jit_compile):
    """Vertical stacks once per row, horizontal stacks at one pixel: the full pass's params everywhere."""
    model = tiny(image_shape, num_classes=num_classes, num_layers=3, input_kernel_size=5)
    assert max_step_error(model, condition=None if num_classes is None else 1, jit_compile=jit_compile) < 1e-5


def test_sampling_state_does_not_grow_with_the_image_height():
    """The state keeps rows and columns of layer inputs, not the canvas: nothing in it scales with H."""
    short, tall = tiny((4, 6, 3), num_classes=3), tiny((40, 6, 3), num_classes=3)
    condition = labels(2, 3)
    shapes = {k: tuple(v.shape) for k, v in short.initial_state(2, condition).items()}
    assert shapes == {k: tuple(v.shape) for k, v in tall.initial_state(2, condition).items()}
    # 3x3 layers: one row above for the vertical stack, one pixel left for the horizontal one
    assert shapes["vertical1"] == (2, 1, 6 + 2, 12) and shapes["columns1"] == (2, 1, 12)
    assert shapes["offsets"] == (2, 6, 3, 24)


# ------------------------------------------------------------- serialization
def test_keras_save_load_round_trip(tmp_path):
    model = tiny((4, 4, 3), num_classes=3, filters=6, output_filters=6)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).integers(0, 8, size=[3, 4, 4, 3]).astype(np.int32)
    condition = labels(3, 3)
    path = os.path.join(tmp_path, "gated.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, GatedPixelCNN)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(restored.log_prob(x, condition=condition).numpy(),
                               model.log_prob(x, condition=condition).numpy(), rtol=1e-6)


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("num_classes", [None, 10])
def test_short_fit_on_fashion_mnist_lowers_the_loss(num_classes):
    ds = tfar.data.load("fashion_mnist", split="train", batch_size=16, with_labels=True, limit=256, repeat=True)
    if num_classes is None:
        ds = ds.map(lambda x, y: x)
    keras.utils.set_random_seed(0)
    model = GatedPixelCNN(image_shape=(28, 28, 1), num_levels=256, num_layers=2, filters=8, kernel_size=3,
                          input_kernel_size=5, output_filters=16, num_classes=num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(ds, steps_per_epoch=5, epochs=4, verbose=0).history["loss"]
    assert np.isfinite(history).all()
    assert history[-1] < history[0] - 0.5, history  # mean loss of the first vs the last 5 steps, nats/dim


def test_mixed_precision_matches_float32():
    model = tiny((4, 4, 3), num_classes=3, filters=6, output_filters=6)
    x = np.random.default_rng(0).integers(0, 8, size=[2, 4, 4, 3]).astype(np.int32)
    condition = labels(2, 3)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        config = model.get_config()
        config.pop("dtype")
        half = GatedPixelCNN.from_config(config)
        half.build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    half.set_weights(model.get_weights())
    assert half.compute_dtype == half.blocks[1].compute_dtype == "float16" and half.blocks[1].horizontal_kernel.dtype == "float32"
    log_p = half.log_prob(x, condition=condition)
    assert log_p.dtype == tf.float32
    np.testing.assert_allclose(log_p.numpy(), model.log_prob(x, condition=condition).numpy(), rtol=1e-2)
    assert max_step_error(half, condition=1) < 1e-2  # the cached step in float16

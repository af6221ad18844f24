import numpy as np
import pytest
import keras
import tensorflow as tf
from scipy import stats

import tfar
from tfar.models import PixelCNN
from tfar.testing import all_events, assert_causal, earlier_pixels_seen, max_step_error, total_probability


def tiny(shape=(5, 5, 1), levels=4, **kw):
    colors = shape[-1]
    return PixelCNN(image_shape=shape, num_levels=levels, filters=4 * colors, num_residual_blocks=2,
                    output_filters=4 * colors, **kw)


@pytest.mark.parametrize("shape", [(5, 5, 1), (4, 4, 3)])
@pytest.mark.parametrize("num_classes", [None, 3])
def test_causal_at_random_initialization(shape, num_classes):
    model = tiny(shape, num_classes=num_classes)
    deps = assert_causal(model, condition=None if num_classes is None else 2)
    if shape[-1] == 3:
        # within the first pixel: G sees R, B sees R and G
        assert deps[1, 0] and deps[2, 0] and deps[2, 1]


def test_plain_pixelcnn_has_a_blind_spot():
    """The upper right of a pixel several rows down is missed (van den Oord et al. 2016b, fig. 1)."""
    model = PixelCNN(image_shape=(7, 7, 1), num_levels=4, filters=8, num_residual_blocks=4, output_filters=8)
    from tfar.testing import dependency_matrix

    seen = earlier_pixels_seen(dependency_matrix(model), (7, 7, 1), 6, 0)
    earlier = np.zeros((7, 7), bool)
    earlier[:6] = True
    assert not seen[~earlier].any()
    assert (earlier & ~seen).any(), "expected pixels above-right that PixelCNN cannot see"


@pytest.mark.parametrize("shape,levels,classes", [((2, 2, 1), 2, None), ((1, 1, 3), 4, None), ((2, 1, 1), 3, 2)])
def test_probabilities_sum_to_one(shape, levels, classes):
    model = tiny(shape, levels, num_classes=classes)
    for c in [None] if classes is None else range(classes):
        assert abs(total_probability(model, condition=c) - 1.0) < 1e-5


def test_seeded_samples_reproduce_and_fast_equals_naive():
    model = tiny((4, 4, 3), 8, num_classes=2)
    labels = np.array([0, 1, 1])
    a = model.sample(3, seed=7, condition=labels)
    b = model.sample(3, seed=7, condition=labels)
    c = model.sample(3, seed=7, condition=labels, method="naive")
    d = model.sample(3, seed=8, condition=labels)
    assert a.shape == (3, 4, 4, 3) and a.dtype == tf.int32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, d)
    assert a.numpy().min() >= 0 and a.numpy().max() < 8


@pytest.mark.parametrize("shape,kernel,num_classes", [((6, 7, 1), 5, None), ((4, 5, 3), 3, 2)])
@pytest.mark.parametrize("jit_compile", [None, True], ids=["eager", "xla"])
def test_cached_step_equals_the_full_network(shape, kernel, num_classes, jit_compile):
    """Every layer computed at one pixel from its ring of rows: the full pass's params at every position."""
    model = PixelCNN(image_shape=shape, num_levels=8, filters=4 * shape[-1], num_residual_blocks=2,
                     output_filters=6, kernel_size=kernel, num_classes=num_classes)
    assert max_step_error(model, condition=None if num_classes is None else 1, jit_compile=jit_compile) < 1e-5


@pytest.mark.parametrize("shape,num_classes", [((5, 4, 1), None), ((4, 3, 3), 2)])
def test_fast_equals_naive_with_a_prefix_and_across_rows(shape, num_classes):
    model = tiny(shape, 8, num_classes=num_classes)
    model.build()
    rng = np.random.default_rng(1)
    for weight in model.weights:  # logits far from uniform, so a wrong step shows in the samples
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    labels = None if num_classes is None else np.array([0, 1, 1, 0])
    prefix = rng.integers(0, 8, (4, 1, *shape[1:]))
    for kwargs in (dict(), dict(prefix=prefix)):
        fast = model.sample(4, seed=5, condition=labels, temperature=0.1, **kwargs).numpy()
        naive = model.sample(4, seed=5, condition=labels, temperature=0.1, method="naive", **kwargs).numpy()
        np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast[:, :1], prefix)


def test_sampling_state_does_not_grow_with_the_image_height():
    """The step keeps rows of layer inputs, not the canvas: nothing in its state scales with H."""
    short, tall = tiny((4, 6, 3), num_classes=2), tiny((40, 6, 3), num_classes=2)
    labels = np.array([0, 1])
    shapes = {k: tuple(v.shape) for k, v in short.initial_state(2, labels).items()}
    assert shapes == {k: tuple(v.shape) for k, v in tall.initial_state(2, labels).items()}
    # the 7x7 input layer keeps 4 rows of the image, each 3x3 layer 2 rows of its input
    assert shapes["image"] == (2, 4, 6 + 6, 3) and shapes["block0"] == (2, 2, 6 + 2, 6)


def test_empirical_frequencies_match_log_prob():
    model = tiny((2, 2, 1), 2)
    n = 20_000
    samples = model.sample(n, seed=11).numpy().reshape(n, -1)
    events = all_events(model)
    expected = np.exp(model.log_prob(events).numpy().astype(np.float64))
    codes = samples @ (2 ** np.arange(3, -1, -1))
    observed = np.bincount(codes, minlength=16)
    event_codes = events.reshape(16, -1) @ (2 ** np.arange(3, -1, -1))
    order = np.argsort(event_codes)
    _, p_value = stats.chisquare(observed, expected[order] / expected.sum() * n)
    assert p_value > 1e-3, (observed, expected[order] * n)


def test_prefix_rows_are_kept_and_temperature_to_zero_is_greedy():
    model = tiny((4, 4, 1), 4)
    model.build()
    rng = np.random.default_rng(0)
    for weight in model.weights:  # random biases too, so no two logits tie
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    prefix = rng.integers(0, 4, (2, 2, 4, 1))
    out = model.sample(2, seed=3, prefix=prefix).numpy()
    np.testing.assert_array_equal(out[:, :2], prefix)
    cold = model.sample(2, seed=3, temperature=1e-4).numpy()
    greedy = np.zeros((2, 4, 4, 1), np.int32)
    for pos in range(16):
        i, j = divmod(pos, 4)
        greedy[:, i, j, 0] = np.argmax(model(greedy).numpy()[:, i, j, 0], axis=-1)
    np.testing.assert_array_equal(cold, greedy)


BAD_X = [
    (np.zeros((2, 5, 5), np.int32), "shape"),
    (np.zeros((2, 5, 5, 3), np.int32), "shape"),
    (np.zeros((2, 5, 5, 1), np.float32), "float32"),
    (np.full((2, 5, 5, 1), np.nan, np.float32), "NaN"),
    (np.full((2, 5, 5, 1), 4, np.int32), "value 4"),
    (np.full((2, 5, 5, 1), -1, np.int32), "value -1"),
]


@pytest.mark.parametrize("x,fragment", BAD_X)
def test_bad_input_to_log_prob_names_the_problem(x, fragment):
    with pytest.raises(ValueError, match=fragment):
        tiny().log_prob(x)


@pytest.mark.parametrize("x,fragment", BAD_X)
def test_bad_input_to_fit_names_the_problem(x, fragment):
    model = tiny()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=fragment):
        model.fit(x, epochs=1, verbose=0)


@pytest.mark.parametrize("x,fragment", [(np.full((4, 5, 5, 1), 9, np.int64), "value >= 4"),
                                        (np.full((4, 5, 5, 1), 0.5, np.float32), "float32")])
def test_bad_dataset_to_fit_raises_value_error(x, fragment):
    model = tiny()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=fragment):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(2), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(num_samples=0), "num_samples"),
        (dict(num_samples=2, temperature=0.0), "temperature"),
        (dict(num_samples=2, method="beam"), "method"),
        (dict(num_samples=2, condition=[1, 2]), "unconditional"),
        (dict(num_samples=2, prefix=np.zeros((2, 2, 5, 1), np.float32)), "float32"),
        (dict(num_samples=2, prefix=np.zeros((3, 2, 5, 1), np.int32)), "3 examples"),
    ],
)
def test_bad_sample_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        tiny().sample(**kwargs)


def test_conditional_model_requires_valid_labels():
    model = tiny(num_classes=3)
    x = np.zeros((2, 5, 5, 1), np.int32)
    with pytest.raises(ValueError, match="conditions on 3 classes"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="label 3"):
        model.log_prob(x, condition=[0, 3])
    assert not np.allclose(model.log_prob(x, condition=[0, 0]), model.log_prob(x, condition=[1, 1]))


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(image_shape=(5, 5, 2)), "image_shape"), (dict(num_levels=1), "num_levels"), (dict(filters=5), "filters=5"),
])
def test_bad_constructor_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        PixelCNN(**kwargs)


def test_config_and_keras_file_round_trip(tmp_path):
    model = tiny((4, 4, 3), 8, num_classes=2)
    x = np.random.default_rng(0).integers(0, 8, (2, 4, 4, 3))
    labels = np.array([0, 1])
    clone = PixelCNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    model.compile(optimizer="adam")
    path = tmp_path / "pixelcnn.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.log_prob(x, labels), model.log_prob(x, labels), atol=1e-5)
    np.testing.assert_array_equal(restored.sample(2, seed=1, condition=labels), model.sample(2, seed=1, condition=labels))


def test_bits_per_dim_is_nll_over_dims_in_bits():
    model = tiny()
    x = np.random.default_rng(0).integers(0, 4, (3, 5, 5, 1))
    np.testing.assert_allclose(model.bits_per_dim(x), -model.log_prob(x) / (25 * np.log(2)), rtol=1e-6)


def test_short_fit_on_real_fashion_mnist_lowers_the_loss():
    ds = tfar.data.load("fashion_mnist", split="train", batch_size=32, limit=32 * 40, shuffle=False)
    model = PixelCNN(image_shape=(28, 28, 1), filters=16, num_residual_blocks=1, output_filters=32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(ds.take(4), verbose=0, return_dict=True)["loss"]
    history = model.fit(ds, epochs=1, verbose=0)
    after = model.evaluate(ds.take(4), verbose=0, return_dict=True)["loss"]
    assert np.isfinite(history.history["loss"][0])
    assert after < before - 0.5, (before, after)
    assert after < np.log(256)


def test_evaluate_is_the_per_example_mean_whatever_the_dataset_size():
    """Uneven last batch and unknown cardinality must not bias the reported NLL."""
    model = tiny()
    model.compile(optimizer="adam")
    x = np.random.default_rng(3).integers(0, 4, (10, 5, 5, 1)).astype(np.int32)
    direct = float(-np.mean(model.log_prob(x).numpy()) / 25)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    unknown_size = ds.filter(lambda batch: tf.constant(True))
    for data in (ds, unknown_size):
        loss, bpd = model.evaluate(data, verbose=0)
        assert abs(loss - direct) < 1e-5 and abs(bpd - direct / np.log(2)) < 1e-5

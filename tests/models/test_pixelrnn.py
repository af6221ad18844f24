"""PixelRNN models (Row LSTM, Diagonal BiLSTM): causality, receptive fields, normalization,
sampling, serialization and a short fit on real Fashion-MNIST."""

import gzip
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tfar.models.pixelrnn import DiagonalBiLSTM, RowLSTM  # noqa: E402
from tfar.testing import (  # noqa: E402
    assert_causal, dependency_matrix, earlier_pixels_seen, max_step_error, total_probability,
)

MODELS = [RowLSTM, DiagonalBiLSTM]
FASHION = "/usr/share/datasets/fashion-mnist"


def tiny(cls, image_shape, **kwargs):
    kwargs.setdefault("units", 6 if image_shape[2] == 3 else 4)
    kwargs.setdefault("num_layers", 2)
    kwargs.setdefault("output_filters", 12)
    keras.utils.set_random_seed(kwargs.pop("seed", 0))
    model = cls(image_shape=image_shape, **kwargs)
    model.build()
    return model


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("image_shape", [(4, 4, 1), (3, 3, 3)])
def test_causal_at_initialization(cls, image_shape):
    assert_causal(tiny(cls, image_shape))


@pytest.mark.parametrize("cls", MODELS)
def test_class_conditional_is_causal_and_uses_the_label(cls):
    model = tiny(cls, (3, 3, 3), num_classes=3, num_layers=1)
    assert_causal(model, condition=2)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 3, 3, 3))
    lp0 = model.log_prob(x, condition=np.array([0, 0])).numpy()
    lp1 = model.log_prob(x, condition=np.array([1, 1])).numpy()
    assert np.abs(lp0 - lp1).min() > 1e-4


def row_lstm_field(height, width, i, j):
    """Pixels seen by output (i, j) of a one-layer Row LSTM model (7x7 mask-A input, 1 x 3 LSTM)."""
    seen = np.zeros((height, width), bool)
    for r in range(i):
        up = i - r  # the triangle widens by one column per row up
        lo, hi = j - up - 4, j + up + 2  # plus the reach of the 7x7 and 1 x 3 convolutions
        seen[r, max(lo, 0):min(hi, width - 1) + 1] = True
    seen[i, max(j - 4, 0):j] = True
    return seen


def test_row_lstm_receptive_field_is_the_triangle_above():
    shape = (6, 16, 1)
    model = tiny(RowLSTM, shape, num_layers=1)
    deps = dependency_matrix(model, relative_tolerance=0.0)  # exact zeros only
    for i, j in [(5, 6), (3, 0), (4, 12), (2, 8)]:
        seen = earlier_pixels_seen(deps, shape, i, j)
        np.testing.assert_array_equal(seen, row_lstm_field(*shape[:2], i, j), err_msg=f"output pixel {(i, j)}")
    # far to the upper right of a pixel several rows down: out of reach
    seen = earlier_pixels_seen(deps, shape, 5, 2)
    assert not seen[0, 10:].any() and not seen[3, 7:].any()


def test_row_lstm_receptive_field_stays_a_triangle_with_more_layers():
    shape = (6, 16, 1)
    model = tiny(RowLSTM, shape, num_layers=3)
    deps = dependency_matrix(model, relative_tolerance=0.0)
    i, j = 5, 4
    seen = earlier_pixels_seen(deps, shape, i, j)
    for r in range(i):
        assert seen[r, max(j - (i - r), 0):j + (i - r) + 1].all(), f"triangle row {r}"
        assert not seen[r, j + (i - r) + 3:].any(), f"row {r} sees beyond the triangle's right edge"


def test_diagonal_bilstm_sees_every_earlier_pixel():
    shape = (7, 7, 1)
    deps = assert_causal(tiny(DiagonalBiLSTM, shape, num_layers=2))
    for i in range(7):
        for j in range(7):
            seen = earlier_pixels_seen(deps, shape, i, j).reshape(-1)
            assert seen[: i * 7 + j].all(), f"output pixel {(i, j)} misses {np.flatnonzero(~seen[: i * 7 + j])}"


def test_diagonal_bilstm_without_full_context_misses_the_end_of_the_previous_row():
    shape = (7, 7, 1)
    deps = dependency_matrix(tiny(DiagonalBiLSTM, shape, num_layers=1, full_context=False))
    seen = earlier_pixels_seen(deps, shape, 4, 1)
    assert not seen[3, 6]  # beyond the 7x7 window and never carried by a row-3 feature
    assert seen[3, :6].all() and seen[:3].all() and seen[4, :1].all()


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("image_shape,num_levels", [((2, 2, 1), 2), ((1, 1, 3), 4)])
def test_normalized_on_tiny_event_spaces(cls, image_shape, num_levels):
    model = tiny(cls, image_shape, num_levels=num_levels)
    assert total_probability(model) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("image_shape,num_classes", [((3, 3, 3), 2), ((4, 3, 1), None)])
def test_fast_and_naive_samples_agree(cls, image_shape, num_classes):
    model = tiny(cls, image_shape, num_levels=8, num_classes=num_classes)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # logits far from uniform, so a wrong step shows in the samples
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    labels = None if num_classes is None else np.array([0, 1, 1, 0, 1, 0])
    prefix = rng.integers(0, 8, size=(6, 1, *image_shape[1:])).astype(np.int32)
    # a low temperature makes the samples follow the logits closely, so a wrong step shows
    kwargs = dict(condition=labels, seed=7, temperature=0.05)
    fast = model.sample(6, **kwargs).numpy()
    np.testing.assert_array_equal(fast, model.sample(6, method="naive", **kwargs).numpy())
    assert fast.shape == (6, *image_shape) and fast.max() < 8
    completed = model.sample(6, prefix=prefix, **kwargs).numpy()
    np.testing.assert_array_equal(completed[:, :1], prefix)
    np.testing.assert_array_equal(completed, model.sample(6, prefix=prefix, method="naive", **kwargs).numpy())


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("image_shape,num_classes", [((4, 5, 3), 2), ((5, 9, 1), None)])
@pytest.mark.parametrize("jit_compile", [None, True], ids=["eager", "xla"])
def test_cached_step_matches_the_full_network(cls, image_shape, num_classes, jit_compile):
    """Every layer at one pixel (and the right-to-left rows once per row): the full pass's params everywhere."""
    model = tiny(cls, image_shape, num_levels=16, num_classes=num_classes, kernel_size=5)
    assert max_step_error(model, condition=None if num_classes is None else 1, jit_compile=jit_compile) < 1e-5


@pytest.mark.parametrize("cls", MODELS)
def test_sampling_state_does_not_grow_with_the_image_height(cls):
    """The state keeps rows of layer inputs and states, not the canvas: nothing in it scales with H."""
    short, tall = tiny(cls, (4, 6, 3), num_classes=2), tiny(cls, (40, 6, 3), num_classes=2)
    labels = np.array([0, 1])
    shapes = {k: tuple(v.shape) for k, v in short.initial_state(2, labels).items()}
    assert shapes == {k: tuple(v.shape) for k, v in tall.initial_state(2, labels).items()}
    assert shapes["image"] == (2, 4, 6 + 6, 3)  # the 7x7 input layer: 4 rows of the image


def test_cached_step_without_full_context():
    model = tiny(DiagonalBiLSTM, (3, 9, 1), num_levels=4, full_context=False)
    assert max_step_error(model, jit_compile=False) < 1e-5


@pytest.mark.parametrize("cls", MODELS)
def test_sampling_an_unbuilt_model(cls):
    keras.utils.set_random_seed(0)
    model = cls(image_shape=(2, 2, 1), num_levels=4, units=2, num_layers=1, output_filters=4)
    samples = model.sample(3, seed=0).numpy()
    assert samples.shape == (3, 2, 2, 1) and samples.min() >= 0 and samples.max() < 4


@pytest.mark.parametrize("cls", MODELS)
def test_keras_save_load_round_trip(cls, tmp_path):
    model = tiny(cls, (3, 4, 3), num_classes=2, num_layers=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).integers(0, 256, size=(4, 3, 4, 3))
    labels = np.array([0, 1, 0, 1])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.log_prob(x, labels).numpy(), model.log_prob(x, labels).numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", MODELS)
def test_get_config_round_trip(cls):
    extra = {"lstm_kernel_size": 5} if cls is RowLSTM else {"full_context": False}
    model = cls(image_shape=(4, 5, 3), num_levels=16, units=9, num_layers=3, output_filters=12, kernel_size=5,
                num_classes=4, **extra)
    config = model.get_config()
    for key, value in dict(image_shape=[4, 5, 3], num_levels=16, units=9, num_layers=3, output_filters=12,
                           kernel_size=5, num_classes=4, **extra).items():
        assert config[key] == value
    assert cls.from_config(config).get_config() == config


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image_shape": (4, 4, 3), "units": 4}, "units=4 must be divisible"),
        ({"image_shape": (4, 4, 2)}, "image_shape"),
        ({"num_layers": 0}, "num_layers must be a positive int"),
        ({"units": 2.5}, "units must be a positive int"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_model_specific_bad_arguments():
    with pytest.raises(ValueError, match="lstm_kernel_size must be an odd"):
        RowLSTM(lstm_kernel_size=2)
    with pytest.raises(ValueError, match="full_context must be True or False"):
        DiagonalBiLSTM(full_context="yes")


def fashion_mnist(count, split="train"):
    with gzip.open(f"{FASHION}/{split}-images-idx3-ubyte.gz") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return data.reshape(-1, 28, 28, 1)[:count].astype(np.int32)


@pytest.mark.parametrize("cls", MODELS)
def test_short_fit_on_fashion_mnist_lowers_the_loss(cls):
    train, test = fashion_mnist(32 * 12), fashion_mnist(64, split="t10k")
    model = tiny(cls, (28, 28, 1), units=8, num_layers=1, output_filters=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = float(np.mean(model.bits_per_dim(test)))
    history = model.fit(train, batch_size=32, epochs=1, verbose=0)
    after = float(np.mean(model.bits_per_dim(test)))
    assert np.isfinite(history.history["loss"]).all()
    assert after < before - 1.5, (before, after)  # bits/dim on held-out images

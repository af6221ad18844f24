"""Jacobi (parallel) sampling gives exactly the naive and the fast samples, for any model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.models.pixelcnn import PixelCNN
from tfar.sampling import sample_naive, sample_parallel
from tfar.sampling.benchmark import compare_methods


def tiny_pixelcnn(channels, num_classes=None):
    keras.utils.set_random_seed(0)
    model = PixelCNN(image_shape=(5, 4, channels), num_levels=8, filters=6 * channels, num_residual_blocks=1,
                     output_filters=6 * channels, kernel_size=3, num_classes=num_classes)
    model.build()
    return model


def test_grey_images_equal_naive_and_fast():
    model = tiny_pixelcnn(1)
    for seed, temperature in ((3, 1.0), (4, 0.3)):
        kwargs = dict(seed=seed, temperature=temperature)
        parallel = model.sample(3, method="parallel", **kwargs).numpy()
        np.testing.assert_array_equal(parallel, model.sample(3, method="naive", **kwargs).numpy())
        np.testing.assert_array_equal(parallel, model.sample(3, **kwargs).numpy())
        assert parallel.shape == (3, 5, 4, 1) and len(np.unique(parallel)) > 2


def test_rgb_class_conditional_completion_equals_naive_across_rows():
    model = tiny_pixelcnn(3, num_classes=2)
    rows = np.random.default_rng(1).integers(0, 8, size=(2, 2, 4, 3))  # the first two rows are given
    kwargs = dict(condition=[1, 0], prefix=rows, seed=5)
    parallel = model.sample(2, method="parallel", **kwargs).numpy()
    np.testing.assert_array_equal(parallel, model.sample(2, method="naive", **kwargs).numpy())
    np.testing.assert_array_equal(parallel, model.sample(2, **kwargs).numpy())
    np.testing.assert_array_equal(parallel[:, :2], rows)
    # the label changes what is drawn after the prefix
    other = model.sample(2, method="parallel", condition=[0, 1], prefix=rows, seed=5).numpy()
    assert not np.array_equal(other[:, 2:], parallel[:, 2:])


def test_iterations_are_bounded_by_the_positions_left_to_draw():
    model = tiny_pixelcnn(1)
    seed = tf.constant([2, 0])
    n = model.num_positions()
    flat, iterations = sample_parallel(model, 2, seed, return_iterations=True)
    assert 1 <= iterations <= n
    np.testing.assert_array_equal(flat, sample_naive(model, 2, seed))
    # sharply peaked conditionals: every position depends on its context, so Jacobi needs more passes
    cold, cold_iterations = sample_parallel(model, 2, seed, temperature=0.05, return_iterations=True)
    np.testing.assert_array_equal(cold, sample_naive(model, 2, seed, temperature=0.05))
    assert cold_iterations <= n
    # with P known positions at most N - P passes; a complete prefix needs none
    prefix = np.random.default_rng(2).integers(0, 8, size=(2, n - 3))
    _, few = sample_parallel(model, 2, seed, prefix=prefix, return_iterations=True)
    assert 1 <= few <= 3
    full = np.random.default_rng(3).integers(0, 8, size=(2, n))
    kept, none = sample_parallel(model, 2, seed, prefix=full, return_iterations=True)
    assert none == 0
    np.testing.assert_array_equal(kept, full)


def test_benchmark_reports_parallel_iterations_and_agreement():
    model = tiny_pixelcnn(1)
    result = compare_methods(model, 2, seed=6, methods=("fast", "naive", "parallel"))
    assert result["identical"] is True
    assert 1 <= result["parallel_iterations"] <= result["positions"] == 20
    assert result["repeats"] == 3 and len(result["parallel_runs"]) == 3
    # the report rounds the speed-up to 2 decimals
    assert result["speedup"] == pytest.approx(result["naive_seconds"] / result["fast_seconds"], abs=0.005)
    with pytest.raises(ValueError, match="repeats"):
        compare_methods(model, 2, repeats=2)
    with pytest.raises(ValueError, match="methods"):
        compare_methods(model, 2, methods=("fast", "slow"))

"""Seeded draws: the same under XLA as without it, and distributed as the head says."""

import numpy as np
import pytest
import tensorflow as tf

from tfar.distributions import Bernoulli, Categorical
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture, ScalarLogisticMixture
from tfar.sampling import position_seed

HEADS = {
    "categorical": (Categorical(16), (5, 16)),
    "categorical_rgb": (Categorical(8), (4, 3, 8)),
    "bernoulli": (Bernoulli(), (6,)),
    "logistic_mixture_rgb": (DiscretizedLogisticMixture(256, 3, 4), (3, DiscretizedLogisticMixture(256, 3, 4).params_per_value)),
    "logistic_mixture_scalar": (ScalarLogisticMixture(256, 3), (5, 9)),
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_compiled_and_uncompiled_draws_are_identical(name):
    head, shape = HEADS[name]
    params = tf.constant(np.random.default_rng(0).normal(size=shape) * 2, tf.float32)

    def draws(seed):
        return tf.stack([head.sample(params, position_seed(seed, t), 0.8) for t in (0, 1, 7, 4095)])

    compiled = tf.function(draws, jit_compile=True)
    # negative words and words above 2^31 - 1 once read as unsigned: the cases XLA widens differently
    for seed in ([3, 0], [-5, 7], [5, -7], [-1, -2**31], [2**31 - 1, -9]):
        seed = tf.constant(seed, tf.int32)
        np.testing.assert_array_equal(compiled(seed).numpy(), draws(seed).numpy(), err_msg=str(seed.numpy()))


def test_position_seeds_are_non_negative_and_distinct():
    seeds = np.stack([position_seed(tf.constant([-3, -2**31]), t).numpy() for t in range(50)])
    assert seeds.min() >= 0
    assert len({tuple(s) for s in seeds}) == 50


@pytest.mark.parametrize("levels, temperature", [(6, 1.0), (7, 0.5), (10, 1.0), (2, 2.0)])
def test_categorical_draws_follow_the_softmax(levels, temperature):
    """Levels split into blocks of ceil(sqrt(L)): 6 = 2 x 3, 7 = 3 x 3 less 2 padding levels, 10 = 3 x 4 less 2."""
    logits = np.array([2.0, -1.0, 0.5, 0.0, -3.0, 1.0, 0.3, -0.5, 1.5, -2.0][:levels], np.float32)
    head = Categorical(levels)
    n = 20000
    batch = tf.tile(tf.constant(logits)[None, None], [n // 2, 2, 1])  # [n/2, 2, L]: more than one leading dim
    counts = np.bincount(head.sample(batch, tf.constant([11, 3]), temperature).numpy().ravel(), minlength=levels)
    expected = n * tf.nn.softmax(logits / temperature).numpy()
    # chi-square with L - 1 <= 9 degrees of freedom; 40 is far beyond its 0.9999 quantile (33.7)
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 40, (counts, expected)
    assert len(counts) == levels

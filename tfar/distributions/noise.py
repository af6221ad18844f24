"""Seeded noise shared by every likelihood head.

Sampling is written as ``argmax(logits / T + Gumbel noise)`` (Gumbel-max trick) or
``logit / T + Logistic noise > 0``, with the noise drawn from a stateless generator.
The same seed therefore gives the same sample in the naive and the fast sampler, and
an exported step graph can take the noise as an input.
"""

import tensorflow as tf


def uniform_noise(shape, seed):
    """Uniform(0, 1) noise bounded away from 0 and 1, from a stateless seed [2]."""
    tiny = 1e-7
    return tf.random.stateless_uniform(shape, seed=seed, minval=tiny, maxval=1.0 - tiny, dtype=tf.float32)


def gumbel_noise(shape, seed):
    """Standard Gumbel noise ``-log(-log(u))``."""
    return -tf.math.log(-tf.math.log(uniform_noise(shape, seed)))


def logistic_noise(shape, seed):
    """Standard Logistic noise ``log(u) - log(1 - u)``."""
    u = uniform_noise(shape, seed)
    return tf.math.log(u) - tf.math.log1p(-u)


def check_temperature(temperature):
    """Raise ValueError unless ``temperature`` is a positive finite Python number."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        0 < temperature < float("inf")
    ):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")

"""Seeded noise shared by every likelihood head.

Sampling is written as an inverse CDF of one uniform (the softmax head),
``argmax(logits / T + Gumbel noise)`` (Gumbel-max, mixture components) or
``logit / T + Logistic noise > 0``, with the noise drawn from a stateless generator.
The same seed therefore gives the same sample in the naive and the fast sampler, and
an exported step graph can take the noise as an input.
"""

import tensorflow as tf


def uniform_noise(shape, seed):
    """Uniform(0, 1) noise in [2^-24, 1 - 2^-24], from a stateless seed [2].

    ``u = (floor(bits / 2^9) + 1/2) / 2^23`` from 32 random bits, keyed by the seed
    read as two unsigned 32-bit words. XLA and TensorFlow agree on those bits, but not
    on their own float conversion nor on how a negative int32 seed widens, so a sampler
    compiled with ``jit_compile=True`` draws the same noise as an uncompiled one.
    """
    key = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF)
    bits = tf.random.stateless_uniform(shape, seed=key, minval=None, maxval=None, dtype=tf.uint32)
    return (tf.cast(tf.bitwise.right_shift(bits, 9), tf.float32) + 0.5) * (2.0**-23)


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

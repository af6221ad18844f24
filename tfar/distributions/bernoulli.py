"""Bernoulli likelihood for binarized images (``num_levels=2``).

One logit ``l`` per value: ``log p(x=1) = -softplus(-l)`` and ``log p(x=0) = -softplus(l)``
(van den Oord et al. 2016, arXiv:1601.06759, sec. 5.2, binarized MNIST).
"""

import tensorflow as tf

from tfar.distributions.noise import logistic_noise


class Bernoulli:
    """A one-logit head over {0, 1}. Parameters have the event's shape (no suffix)."""

    num_levels = 2

    @property
    def params_per_value(self):
        return 1

    @property
    def param_suffix(self):
        return ()

    def log_prob(self, logits, x):
        logits = tf.cast(logits, tf.float32)
        x = tf.cast(x, tf.float32)
        return -(x * tf.nn.softplus(-logits) + (1.0 - x) * tf.nn.softplus(logits))

    def sample(self, logits, seed, temperature=1.0):
        """``1[l / T + Logistic noise > 0]``, the Bernoulli(sigmoid(l / T)) sample."""
        logits = tf.cast(logits, tf.float32) / temperature
        return tf.cast(logits + logistic_noise(tf.shape(logits), seed) > 0, tf.int32)

    def mode(self, logits):
        return tf.cast(logits > 0, tf.int32)

"""Categorical likelihood over ``num_levels`` values per sub-pixel or audio sample.

PixelCNN / PixelRNN (van den Oord et al. 2016, arXiv:1601.06759, sec. 5.3) model each
8-bit value with a 256-way softmax: ``log p(x) = log_softmax(logits)[x]``. For RGB the
network's output channels are grouped R | G | B and reshaped into [..., C, levels].
"""

import math

import tensorflow as tf

from tfar.distributions.noise import uniform_noise


class Categorical:
    """A ``num_levels``-way softmax head. Parameters have shape [..., num_levels]."""

    def __init__(self, num_levels):
        self.num_levels = int(num_levels)

    @property
    def params_per_value(self):
        return self.num_levels

    @property
    def param_suffix(self):
        """Trailing parameter dims after the event dims."""
        return (self.num_levels,)

    def log_prob(self, logits, x):
        """Per-value log-probability in nats; ``logits`` [..., L], ``x`` int [...]."""
        logits = tf.cast(logits, tf.float32)
        log_p = tf.nn.log_softmax(logits, axis=-1)
        # one-hot contraction rather than a batched gather: exports cleanly to ONNX
        return tf.reduce_sum(log_p * tf.one_hot(tf.cast(x, tf.int32), self.num_levels), axis=-1)

    def sample(self, logits, seed, temperature=1.0):
        """Inverse-CDF sample of ``softmax(logits / temperature)`` as int32 [...].

        One u ~ U(0, 1) per value picks the first level whose cumulative weight
        (weights w_k = exp(l_k / T - max)) reaches u * sum_k w_k, in two stages: the
        levels form about sqrt(L) blocks; the block is found on the cumulative block
        sums, then the level on the cumulative sums inside that block. One random
        number per value, not one per level as in Gumbel-max, and O(sqrt L) prefix
        sums instead of a scan over L: random numbers and long scans are the costly
        part of a compiled sampling step (XLA on CPU).
        """
        logits = tf.cast(logits, tf.float32) / temperature
        levels = self.num_levels
        width = math.isqrt(levels - 1) + 1  # levels per block, ceil(sqrt(L))
        count = -(-levels // width)  # blocks
        lead = tf.shape(logits)[:-1]
        weights = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
        weights = tf.concat([weights, tf.zeros_like(weights[..., : count * width - levels])], axis=-1)
        blocks = tf.reshape(weights, tf.concat([lead, [count, width]], axis=0))
        block_cdf = tf.math.cumsum(tf.reduce_sum(blocks, axis=-1), axis=-1)  # [..., count]
        target = uniform_noise(lead, seed) * block_cdf[..., -1]
        block = tf.minimum(tf.reduce_sum(tf.cast(block_cdf < target[..., None], tf.int32), axis=-1), count - 1)
        rank = len(logits.shape) - 1
        before = tf.concat([tf.zeros_like(block_cdf[..., :1]), block_cdf], axis=-1)
        before = tf.gather(before, block[..., None], batch_dims=rank)[..., 0]
        inner = tf.math.cumsum(tf.gather(blocks, block[..., None], batch_dims=rank)[..., 0, :], axis=-1)
        level = tf.minimum(tf.reduce_sum(tf.cast(inner < (target - before)[..., None], tf.int32), axis=-1), width - 1)
        return tf.minimum(block * width + level, levels - 1)  # the clamps only catch rounding at the top end

    def mode(self, logits):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

"""Discretized logistic mixture likelihood of PixelCNN++ (Salimans et al. 2017, arXiv:1701.05517, sec. 2.1-2.2).

Values ``v in {0, ..., L-1}`` are mapped to bin centres ``x = 2 v / (L-1) - 1`` in [-1, 1]
with half-width ``d = 1 / (L-1)``. One pixel with C channels has a K-component mixture,

    p(x) = sum_k pi_k prod_c [sigma((x_c + d - m_kc) / s_kc) - sigma((x_c - d - m_kc) / s_kc)],

where the edge bins take the whole tails: the bin at ``v = 0`` uses ``sigma((x + d - m) / s)``
and the bin at ``v = L-1`` uses ``1 - sigma((x - d - m) / s)``. For RGB the means are
coupled linearly inside a pixel (eq. 3): ``m_G = mu_G + a x_R``, ``m_B = mu_B + b x_R + c x_G``
with ``a, b, c = tanh(raw)``. Scales are ``s = exp(max(raw, LOG_SCALE_MIN))`` (``scale="exp"``,
the paper's code) or ``s = softplus(raw) + exp(LOG_SCALE_MIN)`` (``scale="softplus"``, as
``tfp.distributions.PixelCNN``); where a bin's
mass underflows (< 1e-5) its log is replaced by ``log pdf(x) + log(2 d)`` (the density at
the bin centre times the bin width). Channels are summed in log space per component, then
components are combined with log-sum-exp.

Parameters of one pixel are a flat vector of ``K * (1 + 2C + C(C-1)/2)`` numbers laid out as
``[logits (K) | means (C, K) | log_scales (C, K) | coefficients (C(C-1)/2, K)]``.
The components are ``tfd.Logistic`` distributions (their cdf, survival function, log-cdf and
density give the bin masses); components are combined as ``tfd.MixtureSameFamily`` does,
``logsumexp(log_softmax(logits) + log p_k)``, but only after the channels' log-masses are
summed, which ``QuantizedDistribution`` cannot express for coupled channels.
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfar.arg_checks import check_color_channels, checked_int, positive_int
from tfar.distributions.noise import gumbel_noise, logistic_noise

tfd = tfp.distributions

LOG_SCALE_MIN = -7.0
SCALES = ("exp", "softplus")
UNDERFLOW = 1e-5


class DiscretizedLogisticMixture:
    """PixelCNN++ per-pixel head: a K-component discretized logistic mixture over C channels.

    Args:
      num_levels: values per channel, a power of two >= 2 (256 for 8-bit images).
      num_channels: 1 (grey) or 3 (RGB with linear channel coupling).
      num_logistic_mix: number of mixture components K.
      scale: how raw outputs become logistic scales, "exp" (clamped log-scale) or "softplus".

    ``log_prob(params, x)`` takes params [..., P] and integer pixels x [..., C] and returns the
    per-pixel log-probability [...]. ``sample(params, seed, temperature)`` draws all C channels
    of a pixel at once as int32 [..., C]; a temperature T divides the mixture logits by T and
    multiplies every logistic scale by T.
    """

    def __init__(self, num_levels=256, num_channels=1, num_logistic_mix=10, scale="exp"):
        self.num_levels = checked_int(
            "num_levels", num_levels, "a power of two >= 2", lambda v: v >= 2 and not v & (v - 1)
        )
        self.num_channels = check_color_channels(num_channels, "num_channels")
        self.num_logistic_mix = positive_int("num_logistic_mix", num_logistic_mix)
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.scale = scale

    # ----------------------------------------------------------------- layout
    @property
    def num_coefficients(self):
        return self.num_channels * (self.num_channels - 1) // 2

    @property
    def params_per_value(self):
        """Parameters per pixel (all channels): K * (1 + 2C + C(C-1)/2)."""
        return self.num_logistic_mix * (1 + 2 * self.num_channels + self.num_coefficients)

    @property
    def param_suffix(self):
        return (self.params_per_value,)

    def split(self, params):
        """Flat params [..., P] -> logits [..., K], means and log-scales [..., C, K], coeffs [..., C(C-1)/2, K]."""
        params = tf.cast(params, tf.float32)
        k, c = self.num_logistic_mix, self.num_channels
        lead = tf.shape(params)[:-1]
        sizes = [k, c * k, c * k, self.num_coefficients * k]
        logits, means, log_scales, coeffs = tf.split(params, sizes, axis=-1)

        def grid(t, rows):
            return tf.reshape(t, tf.concat([lead, [rows, k]], axis=0))

        log_scales = grid(log_scales, c)
        if self.scale == "softplus":
            log_scales = tf.math.log(tf.nn.softplus(log_scales) + math.exp(LOG_SCALE_MIN))
        else:
            log_scales = tf.maximum(log_scales, LOG_SCALE_MIN)
        return logits, grid(means, c), log_scales, tf.tanh(grid(coeffs, self.num_coefficients))

    def _to_unit(self, values):
        """Integer levels -> bin centres in [-1, 1]."""
        return tf.cast(values, tf.float32) * (2.0 / (self.num_levels - 1)) - 1.0

    def _coupled_means(self, means, coeffs, x):
        """Means [..., C, K] with the RGB coupling applied given channel values x [..., C] in [-1, 1]."""
        if self.num_channels == 1:
            return means
        r, g = x[..., 0:1], x[..., 1:2]
        m_r = means[..., 0, :]
        m_g = means[..., 1, :] + coeffs[..., 0, :] * r
        m_b = means[..., 2, :] + coeffs[..., 1, :] * r + coeffs[..., 2, :] * g
        return tf.stack([m_r, m_g, m_b], axis=-2)

    # -------------------------------------------------------------- likelihood
    def component_log_probs(self, params, x):
        """log P(x_c | component k) per channel and component, float32 [..., C, K]."""
        return self._component_log_probs(self.split(params), x)

    def _component_log_probs(self, split_params, x):
        _, means, log_scales, coeffs = split_params
        x_unit = self._to_unit(x)
        means = self._coupled_means(means, coeffs, x_unit)
        half = 1.0 / (self.num_levels - 1)
        x_col = x_unit[..., None]
        logistic = tfd.Logistic(loc=means, scale=tf.exp(log_scales))
        log_cdf_plus = logistic.log_cdf(x_col + half)  # whole lower tail: bin 0
        log_sf_minus = logistic.log_survival_function(x_col - half)  # whole upper tail: bin L-1
        # Middle bins: log(sigma(plus) - sigma(minus)); the pdf at the centre where that underflows.
        # difference of cdfs below the mean, of survival functions above it: no cancellation near 1
        mass = tf.where(
            x_col > means,
            logistic.survival_function(x_col - half) - logistic.survival_function(x_col + half),
            logistic.cdf(x_col + half) - logistic.cdf(x_col - half),
        )
        log_mass = tf.math.log(tf.maximum(mass, 1e-12))
        log_centre = logistic.log_prob(x_col) + math.log(2.0 * half)
        middle = tf.where(mass > UNDERFLOW, log_mass, log_centre)
        level = tf.cast(x, tf.int32)[..., None]
        return tf.where(level == 0, log_cdf_plus, tf.where(level == self.num_levels - 1, log_sf_minus, middle))

    def log_prob(self, params, x):
        """Per-pixel log-probability in nats, float32 [...]; params [..., P], x int [..., C]."""
        split_params = self.split(params)
        per_component = tf.reduce_sum(self._component_log_probs(split_params, x), axis=-2)  # sum channels: [..., K]
        return tf.reduce_logsumexp(tf.nn.log_softmax(split_params[0], axis=-1) + per_component, axis=-1)

    # ---------------------------------------------------------------- sampling
    def _quantize(self, x_unit):
        level = tf.round((tf.clip_by_value(x_unit, -1.0, 1.0) + 1.0) * (self.num_levels - 1) / 2.0)
        return tf.cast(level, tf.int32)

    def _pick(self, component, *grids):
        """Each grid [..., rows, K] at the chosen ``component`` [...]: one [..., rows] per grid."""
        pick = tf.one_hot(component, self.num_logistic_mix)[..., None, :]  # [..., 1, K]
        return [tf.reduce_sum(grid * pick, axis=-1) for grid in grids]

    def _quantize_channels(self, mu, coef, scale=None, eps=None):
        """int32 levels [..., C] of the picked component, R first: G and B couple to the quantized R (and G).

        ``mu`` [..., C] are the means and ``coef`` [..., C(C-1)/2] the coupling coefficients;
        with ``scale`` and ``eps`` [..., C] each channel is ``m + scale * eps`` before rounding.
        """
        levels, values = [], []
        for c in range(self.num_channels):
            mean = mu[..., c]
            if c == 1:
                mean = mean + coef[..., 0] * values[0]
            elif c == 2:
                mean = mean + coef[..., 1] * values[0] + coef[..., 2] * values[1]
            if eps is not None:
                mean = mean + scale[..., c] * eps[..., c]
            levels.append(self._quantize(mean))
            values.append(self._to_unit(levels[-1]))
        return tf.stack(levels, axis=-1)

    def sample(self, params, seed, temperature=1.0):
        """Draw int32 pixels [..., C] with stateless noise from ``seed`` [2].

        The component is drawn by Gumbel-max on ``logits / T``; each channel is the
        component's logistic ``m + T s * eps`` rounded to the nearest level (clipped to the
        edges, which take the tails). G and B use the already drawn, quantized R (and G)
        in their coupled means, so samples follow ``log_prob`` exactly at T = 1.
        """
        logits, means, log_scales, coeffs = self.split(params)
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), 2)
        lead = tf.shape(logits)[:-1]
        component = tf.argmax(logits / temperature + gumbel_noise(tf.shape(logits), seeds[0]), axis=-1)
        mu, log_scale, coef = self._pick(component, means, log_scales, coeffs)
        eps = logistic_noise(tf.concat([lead, [self.num_channels]], axis=0), seeds[1])
        return self._quantize_channels(mu, coef, tf.exp(log_scale) * temperature, eps)

    def mode(self, params):
        """The rounded mean of the most probable component (a cheap point estimate), int32 [..., C]."""
        logits, means, _, coeffs = self.split(params)
        mu, coef = self._pick(tf.argmax(logits, axis=-1), means, coeffs)
        return self._quantize_channels(mu, coef)


class ScalarLogisticMixture(DiscretizedLogisticMixture):
    """The one-channel mixture as a head over scalar positions (audio samples).

    ``log_prob(params [..., 3K], x [...])`` and ``sample(...) -> [...]``: the same
    discretized logistic mixture with the channel axis left out, as WaveNet's
    ``output="logistic_mixture"`` over mu-law levels (Salimans et al. 2017, eq. 2).
    """

    def __init__(self, num_levels=256, num_logistic_mix=10):
        super().__init__(num_levels=num_levels, num_channels=1, num_logistic_mix=num_logistic_mix)

    def log_prob(self, params, x):
        return super().log_prob(params, x[..., None])

    def sample(self, params, seed, temperature=1.0):
        return super().sample(params, seed, temperature)[..., 0]

    def mode(self, params):
        return super().mode(params)[..., 0]

"""DiscretizedLogisticMixture against independent oracles (tfp.distributions.PixelCNN's own
mixture likelihood, and openai's published PixelCNN++ loss in float64), normalization,
stability, sampling."""

import itertools

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf

from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture


def np_sigmoid(z):
    return scipy.special.expit(z)


def np_softplus(z):
    return np.logaddexp(0.0, z)


def tfp_log_prob(params, x, num_levels, channels, k, scale="exp"):
    """The likelihood ``tfp.distributions.PixelCNN`` computes (in float64) for the same parameters.

    tfp's network is replaced by the parameters themselves, so tfp's own channel coupling,
    quantization (``QuantizedDistribution`` of a shifted ``Logistic``, tails in the edge bins)
    and mixture produce the value: an oracle that shares no likelihood code with tfar.
    Only the parameter layout is unpacked here: logits [K], means [C, K], scales [C, K]
    (exp of the raw log-scale floored at -7, or ``scale="softplus"``: softplus(raw) + e^-7, as
    tfp's own network output is mapped), and coupling coefficients tanh(raw) [C(C-1)/2, K].
    """
    import tensorflow_probability as tfp

    p = params.astype(np.float64)
    n, c = p.shape[0], channels
    logits = p[:, :k]
    means = p[:, k : k + c * k].reshape(n, c, k)
    raw_scales = p[:, k + c * k : k + 2 * c * k].reshape(n, c, k)
    scales = (np_softplus(raw_scales) + np.exp(-7.0)) if scale == "softplus" else np.exp(np.maximum(raw_scales, -7.0))
    coeffs = np.tanh(p[:, k + 2 * c * k :].reshape(n, -1, k))
    as_tfp = [logits[:, None, None], means.transpose(0, 2, 1)[:, None, None],  # [N, 1, 1, K(, C)]
              scales.transpose(0, 2, 1)[:, None, None]]
    if c > 1:
        as_tfp.append(coeffs.transpose(0, 2, 1)[:, None, None])
    # the smallest network tfp builds on a 1x1 image; it is never called
    dist = tfp.distributions.PixelCNN(image_shape=(1, 1, c), num_resnet=1, num_hierarchies=1, num_filters=2,
                                      num_logistic_mix=k, low=0, high=num_levels - 1, dtype=tf.float64)
    dist.network = lambda inputs, training=None: [tf.constant(t) for t in as_tfp]
    return dist.log_prob(tf.constant(x.astype(np.float64)[:, None, None, :])).numpy()


def openai_log_prob(params, x, num_levels, channels, k):
    """openai/pixel-cnn's ``discretized_mix_logistic_loss`` (Salimans et al. 2017), per pixel, in float64:
    edge bins take the tails, a middle bin whose mass is below 1e-5 uses the density at its centre."""
    params = params.astype(np.float64)
    logits = params[..., :k]
    means = params[..., k : k + channels * k].reshape(*params.shape[:-1], channels, k)
    log_s = params[..., k + channels * k : k + 2 * channels * k].reshape(*params.shape[:-1], channels, k)
    log_s = np.maximum(log_s, -7.0)
    coeffs = np.tanh(params[..., k + 2 * channels * k :]).reshape(*params.shape[:-1], -1, k)
    v = x.astype(np.float64) * 2.0 / (num_levels - 1) - 1.0  # [..., C]
    if channels == 3:
        means = means.copy()
        means[..., 1, :] += coeffs[..., 0, :] * v[..., 0:1]
        means[..., 2, :] += coeffs[..., 1, :] * v[..., 0:1] + coeffs[..., 2, :] * v[..., 1:2]
    centred = v[..., None] - means
    inv_s = np.exp(-log_s)
    plus = inv_s * (centred + 1.0 / (num_levels - 1))
    minus = inv_s * (centred - 1.0 / (num_levels - 1))
    log_cdf_plus = plus - np_softplus(plus)
    log_one_minus_cdf_minus = -np_softplus(minus)
    delta = np_sigmoid(plus) - np_sigmoid(minus)
    mid = inv_s * centred
    log_pdf_mid = mid - log_s - 2.0 * np_softplus(mid)
    middle = np.where(delta > 1e-5, np.log(np.maximum(delta, 1e-12)), log_pdf_mid - np.log((num_levels - 1) / 2.0))
    xi = x[..., None]
    per = np.where(xi == 0, log_cdf_plus, np.where(xi == num_levels - 1, log_one_minus_cdf_minus, middle))
    log_pi = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    return np.logaddexp.reduce(per.sum(axis=-2) + log_pi, axis=-1)


def random_params(head, lead, seed, mean_scale=1.0, log_scale_range=(-4.0, 0.5)):
    rng = np.random.default_rng(seed)
    k, c = head.num_logistic_mix, head.num_channels
    logits = rng.normal(size=[*lead, k])
    means = rng.uniform(-mean_scale, mean_scale, size=[*lead, c * k])
    log_s = rng.uniform(*log_scale_range, size=[*lead, c * k])
    coeffs = rng.normal(size=[*lead, head.num_coefficients * k])
    return np.concatenate([logits, means, log_s, coeffs], axis=-1).astype(np.float32)


def pixels_with_edges(levels, channels, seed):
    x = np.random.default_rng(seed).integers(0, levels, size=[500, channels])
    x[:50] = 0  # edge bins explicitly
    x[50:100] = levels - 1
    x[100:120, 0] = 0
    x[120:140, -1] = levels - 1
    return x


@pytest.mark.parametrize("channels,levels", [(1, 256), (3, 256), (3, 16), (1, 2)])
def test_log_prob_matches_tfp_pixel_cnn(channels, levels):
    """Scales down to e^-1 keep every bin's mass above 1e-5, where both compute the exact bin mass."""
    head = DiscretizedLogisticMixture(levels, channels, num_logistic_mix=4)
    params = random_params(head, [500], seed=channels + levels, log_scale_range=(-1.0, 0.5))
    x = pixels_with_edges(levels, channels, seed=1)
    got = head.log_prob(params, x).numpy()
    np.testing.assert_allclose(got, tfp_log_prob(params, x, levels, channels, 4), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels,levels", [(1, 256), (3, 16)])
def test_softplus_scales_match_tfp_pixel_cnn(channels, levels):
    """scale="softplus" maps raw outputs to scales as tfp does: softplus(raw) + e^-7."""
    head = DiscretizedLogisticMixture(levels, channels, num_logistic_mix=4, scale="softplus")
    params = random_params(head, [500], seed=channels + levels, log_scale_range=(-0.5, 1.0))
    x = pixels_with_edges(levels, channels, seed=2)
    got = head.log_prob(params, x).numpy()
    np.testing.assert_allclose(got, tfp_log_prob(params, x, levels, channels, 4, scale="softplus"),
                               rtol=1e-5, atol=1e-5)
    exp_head = DiscretizedLogisticMixture(levels, channels, num_logistic_mix=4)
    assert np.abs(exp_head.log_prob(params, x).numpy() - got).max() > 0.1  # the two maps differ


@pytest.mark.parametrize("channels,levels", [(1, 256), (3, 256), (3, 16)])
def test_log_prob_matches_openai_formula_at_all_scales(channels, levels):
    head = DiscretizedLogisticMixture(levels, channels, num_logistic_mix=4)
    params = random_params(head, [500], seed=channels + levels)
    x = pixels_with_edges(levels, channels, seed=1)
    got = head.log_prob(params, x).numpy()
    np.testing.assert_allclose(got, openai_log_prob(params, x, levels, channels, 4), rtol=1e-4, atol=1e-4)


def test_underflow_fallback_matches_openai_formula():
    head = DiscretizedLogisticMixture(256, 1, num_logistic_mix=2)
    params = random_params(head, [200], seed=3, mean_scale=1.0, log_scale_range=(-9.0, -6.0))
    x = np.random.default_rng(4).integers(1, 255, size=[200, 1])
    got = head.log_prob(params, x).numpy()
    np.testing.assert_allclose(got, openai_log_prob(params, x, 256, 1, 2), rtol=1e-4, atol=1e-3)
    assert np.all(np.isfinite(got))


def test_parameter_layout():
    assert DiscretizedLogisticMixture(256, 1, 10).params_per_value == 30
    assert DiscretizedLogisticMixture(256, 3, 10).params_per_value == 100
    assert DiscretizedLogisticMixture(256, 3, 5).param_suffix == (50,)


def test_grey_256_levels_sum_to_one():
    head = DiscretizedLogisticMixture(256, 1, num_logistic_mix=5)
    for seed in range(3):
        params = np.repeat(random_params(head, [1], seed=seed), 256, axis=0)
        total = np.exp(head.log_prob(params, np.arange(256)[:, None]).numpy().astype(np.float64)).sum()
        assert abs(total - 1.0) < 1e-5, total


def test_rgb_8_levels_sum_to_one():
    head = DiscretizedLogisticMixture(8, 3, num_logistic_mix=3)
    values = np.array(list(itertools.product(range(8), repeat=3)))
    for seed in range(3):
        params = np.repeat(random_params(head, [1], seed=seed, log_scale_range=(-2.0, 0.5)), len(values), axis=0)
        total = np.exp(head.log_prob(params, values).numpy().astype(np.float64)).sum()
        assert abs(total - 1.0) < 1e-5, total


@pytest.mark.parametrize("channels", [1, 3])
def test_log_prob_and_gradients_finite_at_extremes(channels):
    head = DiscretizedLogisticMixture(256, channels, num_logistic_mix=3)
    k, n = 3, 41 * 4
    log_scales = np.repeat(np.linspace(-20.0, 20.0, 41), 4)
    means = np.tile([-50.0, 50.0, -1e3, 0.0], 41)
    logits = np.zeros([n, k])
    per_channel = lambda v: np.repeat(v[:, None], channels * k, axis=1)  # noqa: E731
    coeffs = np.full([n, head.num_coefficients * k], 3.0)
    params = tf.constant(np.concatenate([logits, per_channel(means), per_channel(log_scales), coeffs], -1), tf.float32)
    for value in (0, 255, 128):
        x = np.full([n, channels], value)
        with tf.GradientTape() as tape:
            tape.watch(params)
            log_p = head.log_prob(params, x)
        grads = tape.gradient(log_p, params)
        assert np.all(np.isfinite(log_p.numpy())), value
        assert np.all(np.isfinite(grads.numpy())), value
        assert np.all(log_p.numpy() <= 1e-5)


def exact_probabilities(head, params, levels):
    values = np.array(list(itertools.product(range(levels), repeat=head.num_channels)))
    probs = np.exp(head.log_prob(np.repeat(params, len(values), axis=0), values).numpy().astype(np.float64))
    return values, probs / probs.sum()


def chi_square_pvalue(samples, values, probs):
    """Pearson chi-square of samples [n, C] against exact probabilities of ``values``; rare cells merged."""
    index = {tuple(v): i for i, v in enumerate(values)}
    counts = np.bincount([index[tuple(s)] for s in samples], minlength=len(values))
    num = len(samples)
    keep = probs * num >= 5
    observed, expected = counts[keep], probs[keep] * num
    if (~keep).any():
        observed = np.append(observed, counts[~keep].sum())
        expected = np.append(expected, probs[~keep].sum() * num)
    expected = expected * observed.sum() / expected.sum()
    return scipy.stats.chisquare(observed, expected).pvalue


def chi_square_p(head, params, temperature, levels, num=20000, seed=(7, 11)):
    samples = head.sample(np.repeat(params, num, axis=0), tf.constant(seed, tf.int32), temperature).numpy()
    values, probs = exact_probabilities(head, params, levels)
    return chi_square_pvalue(samples, values, probs)


@pytest.mark.parametrize("channels,levels", [(1, 16), (3, 4)])
def test_samples_follow_probabilities(channels, levels):
    head = DiscretizedLogisticMixture(levels, channels, num_logistic_mix=3)
    params = random_params(head, [1], seed=5, log_scale_range=(-1.5, -0.5))
    assert chi_square_p(head, params, 1.0, levels) > 1e-3


def test_temperature_scales_logits_and_scales():
    head = DiscretizedLogisticMixture(16, 1, num_logistic_mix=3)
    params = random_params(head, [1], seed=6, log_scale_range=(-1.5, -0.5))
    t = 0.5
    k = 3
    tempered = params.copy()
    tempered[:, :k] /= t  # logits / T
    tempered[:, 2 * k : 3 * k] += np.log(t)  # scales * T
    samples = head.sample(np.repeat(params, 20000, axis=0), tf.constant([7, 11], tf.int32), t).numpy()
    values, probs = exact_probabilities(head, tempered, 16)
    _, untempered = exact_probabilities(head, params, 16)
    assert chi_square_pvalue(samples, values, probs) > 1e-3
    assert chi_square_pvalue(samples, values, untempered) < 1e-6
    # and it really differs from sampling at T = 1
    assert np.abs(probs - untempered).max() > 0.02


def test_sampling_is_seeded():
    head = DiscretizedLogisticMixture(256, 3, num_logistic_mix=4)
    params = random_params(head, [64], seed=8)
    a = head.sample(params, tf.constant([1, 2]), 1.0).numpy()
    b = head.sample(params, tf.constant([1, 2]), 1.0).numpy()
    c = head.sample(params, tf.constant([1, 3]), 1.0).numpy()
    assert a.shape == (64, 3) and a.dtype == np.int32
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    assert a.min() >= 0 and a.max() <= 255


def test_mode_picks_the_mean_of_the_strongest_component():
    head = DiscretizedLogisticMixture(256, 1, num_logistic_mix=2)
    params = np.array([[5.0, -5.0, 0.0, 0.5, -3.0, -3.0]], np.float32)
    assert head.mode(params).numpy().tolist() == [[128]]


@pytest.mark.parametrize("kwargs", [dict(num_levels=100), dict(num_levels=1), dict(num_channels=2),
                                    dict(num_logistic_mix=0), dict(scale="log")])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DiscretizedLogisticMixture(**kwargs)

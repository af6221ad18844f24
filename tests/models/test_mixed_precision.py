"""Mixed precision on every model: the policy reaches every layer; likelihoods stay float32.

A model given ``dtype="mixed_bfloat16"`` (or built under that global policy) must run
every layer that has weights in bfloat16 with float32 variables; ``log_prob`` and the
sampling step's parameters stay float32; ``mixed_float16`` trains with loss scaling
and without NaN.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar import models

IMAGE = (4, 4, 3)
TINY = {
    "PixelCNN": (models.PixelCNN, dict(image_shape=IMAGE, filters=6, num_residual_blocks=1, output_filters=6)),
    "GatedPixelCNN": (models.GatedPixelCNN, dict(image_shape=IMAGE, num_layers=2, filters=6, output_filters=6,
                                                 num_classes=3)),
    "PixelCNNPlusPlus": (models.PixelCNNPlusPlus, dict(image_shape=IMAGE, num_resnet=1, num_hierarchies=2,
                                                       num_filters=8, num_logistic_mix=2, dropout_p=0.0)),
    "RowLSTM": (models.RowLSTM, dict(image_shape=IMAGE, units=6, num_layers=1, output_filters=6)),
    "DiagonalBiLSTM": (models.DiagonalBiLSTM, dict(image_shape=IMAGE, units=6, num_layers=1, output_filters=6)),
    "WaveNet": (models.WaveNet, dict(num_stacks=1, layers_per_stack=2, residual_channels=4, dilation_channels=4,
                                     skip_channels=4, num_classes=2)),
}
POLICIES = ["mixed_bfloat16", "mixed_float16"]


@pytest.fixture(autouse=True)
def _restore_global_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


def make(name, policy, how, **overrides):
    """The tiny model ``name`` under ``policy``, passed as ``dtype=`` or set as the global policy."""
    cls, config = TINY[name]
    config = dict(config, **overrides)
    if how == "global":
        keras.config.set_dtype_policy(policy)
        return cls(**config)
    return cls(**config, dtype=policy)


def batch(name, size=4, seed=0):
    """(x, condition) for the tiny model ``name``."""
    rng = np.random.default_rng(seed)
    cls, config = TINY[name]
    x = rng.integers(0, 256, size=[size, 16] if cls is models.WaveNet else [size, *IMAGE]).astype(np.int32)
    labels = config.get("num_classes")
    return x, None if labels is None else rng.integers(0, labels, size=[size]).astype(np.int32)


def record_output_dtypes(model):
    """Wrap the call of every layer that has weights; returns {layer path: set of float output dtypes}."""
    seen = {}
    for layer in model._flatten_layers(include_self=False):
        if not layer.weights:
            continue

        def call(*args, _layer=layer, _call=layer.call, **kwargs):
            outputs = _call(*args, **kwargs)
            floats = {t.dtype.name for t in tf.nest.flatten(outputs) if getattr(t, "dtype", tf.int32).is_floating}
            seen.setdefault(_layer.path, set()).update(floats)
            return outputs

        layer.call = call
    return seen


@pytest.mark.parametrize("how", ["dtype_argument", "global"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", list(TINY))
def test_every_layer_with_weights_computes_in_the_policy_dtype(name, policy, how):
    model = make(name, policy, how)
    model.build()
    compute = keras.DTypePolicy(policy).compute_dtype
    weighted = {layer.path for layer in model._flatten_layers(include_self=False) if layer.weights}
    seen = record_output_dtypes(model)
    log_prob = model.log_prob(*batch(name))
    assert set(seen) == weighted  # every layer with weights ran
    wrong = {path: dtypes for path, dtypes in seen.items() if dtypes != {compute}}
    assert not wrong, f"layers not computing in {compute}: {wrong}"
    assert {w.dtype for w in model.weights} == {"float32"}  # mixed policies keep float32 variables
    assert log_prob.dtype == tf.float32
    assert np.all(np.isfinite(log_prob.numpy()))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", list(TINY))
def test_log_prob_and_sampling_step_stay_float32_and_close_to_float32_weights(name, policy):
    full = make(name, "float32", "dtype_argument")
    full.build()
    mixed = make(name, policy, "dtype_argument")
    mixed.build()
    mixed.set_weights(full.get_weights())
    x, condition = batch(name)
    reference, log_prob = full.log_prob(x, condition).numpy(), mixed.log_prob(x, condition)
    assert log_prob.dtype == tf.float32
    # the network runs in 16 bits, the likelihood in float32: close, not equal
    np.testing.assert_allclose(log_prob.numpy(), reference, rtol=2e-2)
    state = mixed.initial_state(4, condition=condition)
    params, _ = mixed.step(tf.zeros([4, *mixed.position_shape], tf.int32), state)
    assert params.dtype == tf.float32


@pytest.mark.parametrize("name", list(TINY))
def test_mixed_float16_fit_scales_the_loss_and_lowers_it(name):
    smaller = {"num_hierarchies": 1} if name == "PixelCNNPlusPlus" else {}  # its training graph is the slowest
    model = make(name, "mixed_float16", "dtype_argument", **smaller)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x, condition = batch(name, size=8)
    history = model.fit(x, condition, batch_size=8, epochs=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)), history
    assert history[-1] < history[0] - 0.05, history

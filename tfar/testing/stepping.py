"""Check a model's single-step graph against its full (teacher-forced) network."""

import numpy as np
import tensorflow as tf

from tfar.testing.causality import random_input


def max_step_error(model, condition=None, seed=0, length=None, batch=2, jit_compile=None):
    """Largest |step params - full params| over every position of a random input.

    Feeds the true previous value to ``step`` at each position, so a correct cache
    reproduces ``model(x)`` exactly (up to float rounding). ``jit_compile=None`` runs
    the steps eagerly; True / False runs them all in one ``tf.function`` loop, with
    or without XLA.
    """
    x = random_input(model, batch, seed, length)
    labels = None if model.num_classes is None else tf.fill([batch], int(condition or 0))
    full = model.flatten_params(model(x, condition=labels)).numpy()
    flat = x.reshape(batch, full.shape[1], *model.position_shape)
    if jit_compile is not None:
        stepped = _stepped_in_one_loop(model, flat, labels, jit_compile).numpy()
        return float(np.abs(stepped - full).max())
    state = model.initial_state(batch, condition=labels)
    previous = np.zeros((batch, *model.position_shape), np.int32)
    error = 0.0
    for t in range(full.shape[1]):
        params, state = model.step(tf.constant(previous), state)
        error = max(error, float(np.abs(params.numpy() - full[:, t]).max()))
        previous = flat[:, t]
    return error


def _stepped_in_one_loop(model, flat, labels, jit_compile):
    """Params [B, N, ...] of ``step`` fed the true previous values of ``flat``, in one compiled loop."""

    @tf.function(jit_compile=jit_compile)
    def run(flat):
        state = model.initial_state(flat.shape[0], condition=labels)
        previous = tf.zeros_like(flat[:, 0])
        out = tf.TensorArray(tf.float32, size=flat.shape[1])
        for t in tf.range(flat.shape[1]):
            params, state = model.step(previous, state)
            out = out.write(t, tf.cast(params, tf.float32))
            previous = tf.gather(flat, t, axis=1)
        stacked = out.stack()
        return tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])

    return run(tf.constant(flat))

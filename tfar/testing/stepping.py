"""Check a model's single-step graph against its full (teacher-forced) network."""

import numpy as np
import tensorflow as tf

from tfar.testing.causality import random_input


def max_step_error(model, condition=None, seed=0, length=None, batch=2):
    """Largest |step params - full params| over every position of a random input.

    Feeds the true previous value to ``step`` at each position, so a correct cache
    reproduces ``model(x)`` exactly (up to float rounding).
    """
    x = random_input(model, batch, seed, length)
    labels = None if model.num_classes is None else tf.fill([batch], int(condition or 0))
    full = model.flatten_params(model(x, condition=labels)).numpy()
    flat = x.reshape(batch, full.shape[1], *model.position_shape)
    state = model.initial_state(batch, condition=labels)
    previous = np.zeros((batch, *model.position_shape), np.int32)
    error = 0.0
    for t in range(full.shape[1]):
        params, state = model.step(tf.constant(previous), state)
        error = max(error, float(np.abs(params.numpy() - full[:, t]).max()))
        previous = flat[:, t]
    return error

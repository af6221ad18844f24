"""The exported ``sample`` signature's loop: ancestral sampling over ``model.step`` in plain TF.

TF Serving runs it without XLA (a function that must be compiled by XLA is refused unless the
server starts with ``--xla_cpu_compilation_enabled``), so this loop is what a served request costs.
"""

import tensorflow as tf

from tfar.sampling.loop import position_seed


def sample_loop(model, num_samples, seed, temperature, condition, num_positions):
    """Ancestral sampling over ``model.step``: flat int32 [num_samples, N, *position_shape].

    Position t draws from ``head.sample(params_t, fold_in([seed, 0], t), temperature)``,
    the same noise as :func:`tfar.sampling.sample_fast`.
    """
    stateless_seed = tf.stack([seed, tf.constant(0, tf.int32)])
    state = model.initial_state(num_samples, condition=condition)
    x = tf.zeros([num_samples, *model.position_shape], tf.int32)
    drawn = tf.TensorArray(tf.int32, size=num_positions)
    for t in tf.range(num_positions):
        params, state = model.step(x, state)
        x = model.head.sample(params, position_seed(stateless_seed, t), temperature)
        drawn = drawn.write(t, x)
    stacked = drawn.stack()  # [N, B, *position_shape]
    return tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])

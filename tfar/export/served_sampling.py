"""The exported ``sample`` signature's loop: ancestral sampling over ``model.step`` in plain TF.

TF Serving runs it without XLA (a function that must be compiled by XLA is refused unless the
server starts with ``--xla_cpu_compilation_enabled``), so this loop is what a served request costs.

It draws the noise of :func:`tfar.sampling.sample_fast`, so it equals ``sample_fast(...,
jit_compile=False)`` value for value. ``model.sample`` runs the same loop compiled by XLA, which
fuses and reorders float operations: a logit can differ in its last bits, and where the uniform
noise falls within that rounding of a boundary of the inverse CDF the two draw different values
and, the draw being fed back, the rest of that sequence diverges. That is rare for the image
models and a few percent of WaveNet's values over thousands of samples
(bench/results/served_sampling.md; tests/test_served_sampling.py asserts the bound).
"""

import tensorflow as tf

from tfar.sampling.loop import CHUNK, fast_loop, position_seed


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


def sample_loop_xla(model, num_samples, seed, temperature, condition, num_positions):
    """:func:`sample_loop` compiled by XLA: ``model.sample``'s own loop, ``CHUNK`` positions per call.

    For the optional ``sample_xla`` signature (``saved_model(..., xla_sample=True)``): its chunk
    function carries ``_XlaMustCompile``, so only a TF Serving started with
    ``--xla_cpu_compilation_enabled`` runs it. Same inputs, outputs and noise as ``sample``, and
    equal to ``model.sample`` value for value (the same compiled loop).
    """
    run = fast_loop(model, CHUNK, True)
    state = model.initial_state(num_samples, condition=condition)
    x = tf.zeros([num_samples, *model.position_shape], tf.int32)
    stateless_seed = tf.stack([seed, tf.constant(0, tf.int32)])
    no_prefix = tf.zeros([num_samples, CHUNK, *model.position_shape], tf.int32)
    num_positions = tf.convert_to_tensor(num_positions, tf.int32)
    chunks = (num_positions + CHUNK - 1) // CHUNK
    pieces = tf.TensorArray(tf.int32, size=chunks)
    for c in tf.range(chunks):
        start = c * CHUNK
        x, state, drawn = run(x, state, start, tf.minimum(CHUNK, num_positions - start), stateless_seed,
                              temperature, no_prefix, tf.constant(0))
        pieces = pieces.write(c, drawn)  # [B, CHUNK, *position_shape]
    stacked = pieces.stack()  # [chunks, B, CHUNK, *position_shape]
    flat = tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])
    flat = tf.reshape(flat, tf.concat([[num_samples, chunks * CHUNK], tf.shape(x)[1:]], axis=0))
    return flat[:, :num_positions]

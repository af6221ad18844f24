"""Exact parallel sampling by Jacobi fixed-point iteration.

With the noise of every position fixed by the seed (``position_seed(seed, t)``, as
in the fast and naive samplers), ancestral sampling is a triangular system

    x_t = g_t(x_<t) = head.sample(params_t(x_<t), position_seed(seed, t), T),   t = 0 .. N-1.

Jacobi iteration updates every position at once from one full network pass on the
current canvas: x^(k+1) = g(x^(k)), starting from the prefix and zeros (Song et al.
2021, "Accelerating Feedforward Computation via Parallel Nonlinear Equation
Solving"; Wiggers & Hoogeboom 2020, "Predictive Sampling with Forecasting
Autoregressive Models"). After k iterations positions < P + k are exact (P = prefix
length), so at most N - P iterations are needed; iteration stops as soon as nothing
changes, because the fixed point is the unique solution: the naive sample itself.
If x^(k) and x^(k-1) first differ at position j, every later iterate agrees with
x^(k) up to j, so only positions after j are drawn again.
"""

import tensorflow as tf

from tfar.sampling.loop import as_tensors, compiled, padded_prefix, position_seed


def sample_parallel(model, num_samples, seed, temperature=1.0, condition=None, prefix=None, length=None,
                    return_iterations=False):
    """Sample all positions by Jacobi iteration: int32 [B, N, *position_shape], == ``sample_naive``.

    ``return_iterations=True`` returns (samples, number of full network passes).
    """
    n = model.num_positions(length)
    run = compiled(model, "parallel", lambda: tf.function(_jacobi(model), reduce_retracing=True))
    canvas, prefix_len = padded_prefix(model, prefix, num_samples, n)
    canvas, iterations = run(canvas, tf.cast(seed, tf.int32), tf.constant(temperature, tf.float32),
                             as_tensors(condition), tf.constant(prefix_len))
    return (canvas, int(iterations)) if return_iterations else canvas


def draw_positions(model, params, seed, temperature, start):
    """Draws for positions ``start`` .. N-1 from ``params`` [B, N, *suffix]: int32 [B, N - start, *position_shape].

    One ``head.sample`` per position with that position's seed, as the other samplers draw.
    """
    rest = tf.transpose(params[:, start:], [1, 0, *range(2, len(params.shape))])  # [N - start, B, *suffix]
    positions = tf.range(start, tf.shape(params)[1])
    drawn = tf.map_fn(lambda a: model.head.sample(a[0], position_seed(seed, a[1]), temperature), (rest, positions),
                      fn_output_signature=tf.int32)
    return tf.transpose(drawn, [1, 0, *range(2, len(drawn.shape))])


def _jacobi(model):
    def run(canvas, seed, temperature, condition, prefix_len):
        n = tf.shape(canvas)[1]
        iterations, final = tf.constant(0), prefix_len  # positions < final are exact
        while final < n:
            params = model.flatten_params(model(model.unflatten(canvas), condition=condition))
            drawn = draw_positions(model, params, seed, temperature, final)
            changed = tf.reduce_any(tf.not_equal(drawn, canvas[:, final:]), axis=[0, *range(2, len(drawn.shape))])
            canvas = tf.ensure_shape(tf.concat([canvas[:, :final], drawn], axis=1), canvas.shape)
            iterations += 1
            # unchanged: the fixed point; else positions up to the first change are final
            first_change = tf.argmax(tf.cast(changed, tf.int32), output_type=tf.int32)
            final = tf.where(tf.reduce_any(changed), tf.maximum(final + first_change + 1, prefix_len + iterations), n)
        return canvas, iterations

    return run

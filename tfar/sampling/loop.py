"""Ancestral sampling: the generic loop over a model's ``initial_state``/``step``.

For positions t = 0 .. N-1 in the model's autoregressive order:

    params_t, state = model.step(x_{t-1}, state)
    x_t = head.sample(params_t, fold_in(seed, t), temperature)   # or the prefix value

The naive reference recomputes the whole network on the canvas at every position.
Both draw the same noise for the same seed, so they give identical samples.

``condition`` is passed through untouched: None, labels [B], or any nest of tensors
(e.g. WaveNet's ``dict(labels=..., features=...)``) that the model's ``initial_state``
and ``call`` interpret. The sampler never looks inside it.
"""

import tensorflow as tf


def position_seed(seed, t):
    """The stateless int32 seed [2] for position ``t``: fold_in of ``seed`` and t, both words >= 0.

    The seed is read as unsigned 32-bit words and the result kept non-negative,
    because XLA and TensorFlow widen a negative int32 seed differently: so the
    compiled and the uncompiled samplers draw the same noise.
    """
    key = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF)
    folded = tf.random.experimental.stateless_fold_in(key, tf.cast(t, tf.int64))
    return tf.cast(tf.bitwise.bitwise_and(folded, 0x7FFFFFFF), tf.int32)


def sample_fast(model, num_samples, seed, temperature=1.0, condition=None, prefix=None, length=None):
    """Sample with the model's (cached) ``step``. ``prefix``: [B, P, *position_shape] int32 or None."""
    return _compiled_fast(model)(
        tf.constant(num_samples, tf.int32),
        seed,
        tf.constant(temperature, tf.float32),
        _as_tensors(condition),
        _or_empty(prefix, [num_samples, 0, *model.position_shape]),
        tf.constant(model.num_positions(length), tf.int32),
    )


def _as_tensors(condition):
    """Every non-None leaf of the condition nest as a tensor (None leaves stay None)."""
    return tf.nest.map_structure(lambda v: None if v is None else tf.convert_to_tensor(v), condition)


def _or_empty(value, empty_shape):
    """``value`` as int32, or an empty int32 tensor of ``empty_shape`` standing for None."""
    if value is not None:
        return tf.cast(value, tf.int32)
    return tf.zeros(empty_shape, tf.int32)


def _compiled_fast(model):
    fn = getattr(model, "_tfar_fast_sampler", None)
    if fn is None:

        def run(num_samples, seed, temperature, condition, prefix, length):
            state = model.initial_state(num_samples, condition=condition)
            prefix_len = tf.shape(prefix)[1]
            x = tf.zeros([num_samples, *model.position_shape], tf.int32)
            # one padding column keeps the lookup valid when there is no prefix
            padded = tf.concat([prefix, x[:, None]], axis=1)
            out = tf.TensorArray(tf.int32, size=length)
            for t in tf.range(length):
                params, state = model.step(x, state)
                sampled = model.head.sample(params, position_seed(seed, t), temperature)
                x = tf.where(t < prefix_len, padded[:, tf.minimum(t, prefix_len)], sampled)
                out = out.write(t, x)
            stacked = out.stack()  # [N, B, *position_shape]
            return tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])

        fn = tf.function(run, reduce_retracing=True)
        model._tfar_fast_sampler = fn
    return fn


def sample_naive(model, num_samples, seed, temperature=1.0, condition=None, prefix=None, length=None):
    """Reference sampler: a full forward pass over the whole canvas per position."""
    n = model.num_positions(length)
    canvas = tf.Variable(tf.zeros([num_samples, n, *model.position_shape], tf.int32), trainable=False)
    prefix_len = 0 if prefix is None else int(prefix.shape[1])

    @tf.function(reduce_retracing=True)
    def params_at(flat_canvas, t):
        params = model(model.unflatten(flat_canvas), condition=condition)
        return model.flatten_params(params)[:, t]

    for t in range(n):
        if t < prefix_len:
            x = tf.cast(prefix[:, t], tf.int32)
        else:
            params = params_at(canvas.value(), tf.constant(t))
            x = model.head.sample(params, position_seed(seed, t), temperature)
        canvas[:, t].assign(x)
    return canvas.value()

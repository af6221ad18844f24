"""Ancestral sampling: the generic loop over a model's ``initial_state``/``step``.

For positions t = 0 .. N-1 in the model's autoregressive order:

    params_t, state = model.step(x_{t-1}, state)
    x_t = head.sample(params_t, position_seed(seed, t), temperature)   # or the prefix value

The naive reference recomputes the whole network on the canvas at every position.
Both draw the same noise for the same seed, so they give identical samples.

Each sampler is one ``tf.function`` built once per model and reused (traced again
only for new shapes), so a warm call costs no tracing. A model whose class sets
``sampling_jit_compile = True`` runs the fast loop compiled by XLA: the loop, the
step and the noise become one program, and XLA updates loop-carried buffers (e.g.
WaveNet's ring buffers) in place. XLA needs static buffer shapes, so the compiled
loop draws ``CHUNK`` positions per call and any length reuses one compilation.

``condition`` is passed through untouched: None, labels [B], or any nest of tensors
(e.g. WaveNet's ``dict(labels=..., features=...)``) that the model's ``initial_state``
and ``call`` interpret. The sampler never looks inside it.
"""

import tensorflow as tf

CHUNK = 4096  # positions per call of an XLA-compiled fast loop


def position_seed(seed, t):
    """The stateless int32 seed [2] for position ``t``: fold_in of ``seed`` and t, both words >= 0.

    The seed is read as unsigned 32-bit words and the result kept non-negative,
    because XLA and TensorFlow widen a negative int32 seed differently: so the
    compiled and the uncompiled samplers draw the same noise.
    """
    key = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF)
    folded = tf.random.experimental.stateless_fold_in(key, tf.cast(t, tf.int64))
    return tf.cast(tf.bitwise.bitwise_and(folded, 0x7FFFFFFF), tf.int32)


def as_tensors(condition):
    """Every non-None leaf of the condition nest as a tensor (None leaves stay None)."""
    return tf.nest.map_structure(lambda v: None if v is None else tf.convert_to_tensor(v), condition)


def padded_prefix(model, prefix, num_samples, size):
    """(prefix as int32 [B, size, *position_shape] padded with zeros, prefix length)."""
    canvas = tf.zeros([num_samples, size, *model.position_shape], tf.int32)
    if prefix is None:
        return canvas, 0
    prefix = tf.cast(prefix, tf.int32)
    length = int(prefix.shape[1])
    return tf.concat([prefix, canvas[:, length:]], axis=1), length


def compiled(model, name, build):
    """The function cached on ``model`` as ``_tfar_sampler_<name>``, built by ``build()`` on first use."""
    attribute = f"_tfar_sampler_{name}"
    fn = getattr(model, attribute, None)
    if fn is None:
        fn = build()
        setattr(model, attribute, fn)
    return fn


# ------------------------------------------------------------------ fast
def sample_fast(model, num_samples, seed, temperature=1.0, condition=None, prefix=None, length=None,
                jit_compile=None):
    """Sample with the model's (cached) ``step``: int32 [B, N, *position_shape].

    prefix: [B, P, *position_shape] int32 or None. jit_compile: None follows the
    model's ``sampling_jit_compile`` (default False); True/False forces it.
    """
    n = model.num_positions(length)
    jit = bool(getattr(model, "sampling_jit_compile", False) if jit_compile is None else jit_compile)
    chunk = CHUNK if jit else n
    run = compiled(model, "fast_xla" if jit else "fast", lambda: fast_loop(model, CHUNK if jit else None, jit))
    prefix, prefix_len = padded_prefix(model, prefix, num_samples, -(-n // chunk) * chunk)
    state = model.initial_state(num_samples, condition=as_tensors(condition))
    x = tf.zeros([num_samples, *model.position_shape], tf.int32)
    seed, temperature = tf.cast(seed, tf.int32), tf.constant(temperature, tf.float32)
    pieces = []
    for start in range(0, n, chunk):
        steps = min(chunk, n - start)
        x, state, drawn = run(x, state, tf.constant(start), tf.constant(steps), seed, temperature,
                              prefix[:, start : start + chunk], tf.constant(prefix_len))
        pieces.append(drawn[:, :steps])
    return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1)


def fast_loop(model, size, jit):
    """tf.function drawing ``steps`` positions from ``start`` on; ``size`` = static output size (XLA) or None."""

    def run(x, state, start, steps, seed, temperature, prefix, prefix_len):
        drawn = tf.TensorArray(tf.int32, size=steps if size is None else size)
        i = tf.constant(0)
        while i < steps:  # not tf.range(steps): XLA would compile once per value of steps
            t = start + i
            params, state = model.step(x, state)
            sampled = model.head.sample(params, position_seed(seed, t), temperature)
            x = tf.where(t < prefix_len, prefix[:, i], sampled)
            drawn = drawn.write(i, x)
            i += 1
        stacked = drawn.stack()  # [steps or size, B, *position_shape]
        return x, state, tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])

    return tf.function(run, jit_compile=jit, reduce_retracing=True)


# ------------------------------------------------------------------ naive
def sample_naive(model, num_samples, seed, temperature=1.0, condition=None, prefix=None, length=None, stop=None):
    """Reference sampler: a full forward pass over the whole canvas per position.

    ``stop`` < N draws only positions [0, stop) and leaves the rest 0 (for timing
    the per-position cost on a full-size canvas).
    """
    n = model.num_positions(length)
    stop = n if stop is None else min(int(stop), n)
    run = compiled(model, "naive", lambda: tf.function(naive_loop(model), reduce_retracing=True))
    canvas, prefix_len = padded_prefix(model, prefix, num_samples, n)
    return run(canvas, tf.cast(seed, tf.int32), tf.constant(temperature, tf.float32), as_tensors(condition),
               tf.constant(prefix_len), tf.constant(stop))


def write_position(canvas, t, x):
    """``canvas`` [B, N, ...] with column ``t`` replaced by ``x`` [B, ...]."""
    n = tf.shape(canvas)[1]
    mask = tf.reshape(tf.equal(tf.range(n), t), [1, n] + [1] * (len(canvas.shape) - 2))
    return tf.where(mask, tf.expand_dims(x, 1), canvas)


def naive_loop(model):
    def run(canvas, seed, temperature, condition, prefix_len, stop):
        for t in tf.range(prefix_len, stop):
            params = model.flatten_params(model(model.unflatten(canvas), condition=condition))
            x = model.head.sample(tf.gather(params, t, axis=1), position_seed(seed, t), temperature)
            canvas = write_position(canvas, t, x)
        return canvas

    return run

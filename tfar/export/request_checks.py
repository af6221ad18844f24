"""Limits and checks that every served request passes before any work is done.

A served ``sample`` without upper bounds lets one request exhaust the server's memory
(``num_samples=3,000,000``) or hold it for hours (``length=2,000,000,000``), and a
wrongly shaped input otherwise fails deep inside a kernel with a message that names
no input. So the exporter fixes limits at export time, records them in
``tfar_export.json``, and puts these checks in front of every signature:

    1 <= num_samples <= max_num_samples          (sample)
    1 <= length <= max_length                     (sample, audio models)
    1 <= B <= max_batch_size                      (log_prob, initial_state, step)
    1 <= T <= max_length                          (log_prob of audio x [B, T])
    scalars have shape [], tensors the signature's rank and static dimensions,
    temperature is finite and > 0, every state leaf has x_prev's batch size

Each check is an ``Assert`` op that the signature's work depends on, so a bad request
gets ``InvalidArgument`` naming the input, the limit and the value before anything
large is allocated. Shapes are checked first, at run time, by ``EnsureShape``, and the
range checks read the value only through it: TF Serving does no shape check of its own,
and the graph optimiser, trusting the declared shapes, folds ``Rank``/``Shape`` checks of
an input away, so a scalar fed a vector would otherwise reach the range checks.
"""

import tensorflow as tf

from tfar.arg_checks import positive_int

DEFAULT_LIMITS = {
    "max_num_samples": 64,  # images per sample request
    "max_length": 160_000,  # audio samples per request: 20 s at 8 kHz, 10 s at 16 kHz
    "max_batch_size": 256,  # examples per log_prob / initial_state / step request
}
LIMIT_NOTE = "the limit the model was exported with (limits in tfar_export.json)"


def export_limits(audio, max_num_samples=None, max_length=None, max_batch_size=None):
    """The limits of one export as a dict of positive ints (defaults: ``DEFAULT_LIMITS``).

    ``max_length`` is for audio models only; an image's size is fixed by the model.
    """
    if max_length is not None and not audio:
        raise ValueError(f"max_length={max_length!r} applies to audio models only; an image model's sample "
                         f"size is fixed by its event_shape")
    chosen = {"max_num_samples": max_num_samples, "max_length": max_length, "max_batch_size": max_batch_size}
    limits = {}
    for name, value in chosen.items():
        if name == "max_length" and not audio:
            continue
        limits[name] = positive_int(name, DEFAULT_LIMITS[name] if value is None else value)
    return limits


def after(checks, value):
    """``value`` passed through an identity that runs only once every check has passed."""
    with tf.control_dependencies(checks):
        return tf.identity(value)


def checked_shape(value, name, shape):
    """``value`` checked at run time to have ``shape`` (None: any size); else InvalidArgument
    "Shape of tensor ..<name>.. [2] is not compatible with expected shape []" at the op
    ``<name>_must_have_shape_...``. ``EnsureShape`` is kept by the graph optimiser, which
    would fold a ``Rank`` check of a placeholder whose shape is declared.
    """
    dims = "_".join("B" if i == 0 and d is None else ("T" if d is None else str(d)) for i, d in enumerate(shape))
    return tf.ensure_shape(value, shape, name=f"{name}_must_have_shape_{dims}" if shape else f"{name}_must_be_a_scalar")


def checked_count(value, name, limit_name=None, limit=None):
    """An int32 scalar request value checked to be a scalar in [1, limit]."""
    value = checked_scalar(value, name)
    checks = [tf.debugging.assert_positive(value, message=f"{name} must be >= 1")]
    if limit is not None:
        checks.append(tf.debugging.assert_less_equal(
            value, limit, message=f"{name} must be <= {limit_name}={limit}, {LIMIT_NOTE}"))
    return after(checks, value)


def checked_scalar(value, name):
    """A request value checked to be a scalar (any value)."""
    return checked_shape(value, name, [])


def checked_temperature(value):
    """The float32 sampling temperature checked to be a finite scalar > 0."""
    value = checked_scalar(value, "temperature")
    value = after([tf.debugging.assert_all_finite(value, "temperature must be finite")], value)
    return after([tf.debugging.assert_positive(value, message="temperature must be > 0")], value)


def checked_batch(value, name, shape, max_batch_size, max_length=None):
    """A request tensor checked against its signature ``shape`` (dim 0 the batch, None free).

    Its shape is checked first (rank and static dimensions), then the batch to lie in
    [1, max_batch_size] and a free dimension after the batch (an audio length) in
    [1, max_length].
    """
    value = checked_shape(value, name, shape)
    actual = tf.shape(value)
    checks = []
    if shape and shape[0] is None:
        checks += [
            tf.debugging.assert_positive(actual[0], message=f"{name} must hold at least one example (batch >= 1)"),
            tf.debugging.assert_less_equal(
                actual[0], max_batch_size,
                message=f"{name} has a batch over max_batch_size={max_batch_size}, {LIMIT_NOTE}"),
        ]
    for axis, size in enumerate(shape):
        if axis > 0 and size is None and max_length is not None:
            checks += [
                tf.debugging.assert_positive(actual[axis], message=f"{name} must hold at least one sample"),
                tf.debugging.assert_less_equal(
                    actual[axis], max_length, message=f"{name} is longer than max_length={max_length}, {LIMIT_NOTE}"),
            ]
    return after(checks, value)


def checked_same_batch(value, name, batch, batch_name, axes=(0,)):
    """``value`` checked to have ``batch`` examples on each of ``axes``, as ``batch_name`` does."""
    shape = tf.shape(value)
    checks = [tf.debugging.assert_equal(shape[axis], batch, message=f"{name} must have as many examples as {batch_name}")
              for axis in axes]
    return after(checks, value)

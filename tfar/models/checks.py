"""Input checks shared by every model: clear ValueErrors instead of errors deep in TF.

Eager tensors and NumPy arrays are checked by value (dtype, shape, range, NaN).
Symbolic tensors are checked by static shape and dtype; their values are checked in
the input pipeline by :func:`checked_dataset`.
"""

import numpy as np
import tensorflow as tf

_TAG = "tfar input check: "


def _describe(value):
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return f"{value.dtype.name} tensor of shape {tuple(value.shape)}"
    arr = np.asarray(value)
    return f"{arr.dtype} array of shape {arr.shape}"


def _is_symbolic(value):
    return isinstance(value, (tf.Tensor, tf.Variable)) and tf.is_symbolic_tensor(value)


def check_events(x, event_shape, num_levels, name="x"):
    """Return ``x`` as an int32 tensor of shape [batch, *event_shape], or raise ValueError.

    ``event_shape`` may contain None (any length). Values must be integers in
    [0, num_levels).
    """
    expected = f"[batch, {', '.join('T' if d is None else str(d) for d in event_shape)}]"
    if not isinstance(x, (tf.Tensor, tf.Variable)):
        try:
            x = np.asarray(x)
        except Exception:  # noqa: BLE001 - any unconvertible object is a bad input
            raise ValueError(f"{name} must be an integer array of shape {expected}, got {type(x).__name__}") from None
        if x.dtype == object:
            raise ValueError(f"{name} must be an integer array of shape {expected}, got an object array")
    dtype = tf.as_dtype(x.dtype)
    if not dtype.is_integer:
        detail = ""
        if not _is_symbolic(x) and dtype.is_floating:
            arr = np.asarray(x)
            if np.isnan(arr).any():
                detail = f" containing NaN at index {tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])}"
        raise ValueError(
            f"{name} must hold integer levels in [0, {num_levels}) of shape {expected}; "
            f"got a {_describe(x)}{detail}. Quantize first, e.g. tf.cast(images, tf.int32)."
        )
    shape = tuple(x.shape)
    if len(shape) != len(event_shape) + 1 or any(
        e is not None and s is not None and s != e for s, e in zip(shape[1:], event_shape)
    ):
        raise ValueError(f"{name} must have shape {expected} (int levels), got shape {shape}")
    if not _is_symbolic(x):
        arr = np.asarray(x)
        if arr.size:
            lo, hi = arr.min(), arr.max()
            if lo < 0 or hi >= num_levels:
                bad = lo if lo < 0 else hi
                idx = tuple(int(i) for i in np.argwhere(arr == bad)[0])
                raise ValueError(
                    f"{name} has value {int(bad)} at index {idx}; expected levels in [0, {num_levels}) "
                    f"(num_levels={num_levels})"
                )
    return tf.cast(x, tf.int32)


def check_condition(condition, num_classes, batch_size=None, name="condition"):
    """Return labels as int32 [batch] (or None for an unconditional model), or raise."""
    if num_classes is None:
        if condition is not None:
            raise ValueError(f"this model is unconditional (num_classes=None) but got {name}={_describe(condition)}")
        return None
    if condition is None:
        raise ValueError(f"this model conditions on {num_classes} classes: pass {name}= int labels of shape [batch]")
    if not isinstance(condition, (tf.Tensor, tf.Variable)):
        condition = np.asarray(condition)
    dtype = tf.as_dtype(condition.dtype)
    if not dtype.is_integer:
        raise ValueError(f"{name} must be integer class labels in [0, {num_classes}); got a {_describe(condition)}")
    rank = len(condition.shape)
    if rank != 1:
        raise ValueError(f"{name} must have shape [batch], got shape {tuple(condition.shape)}")
    if batch_size is not None and condition.shape[0] is not None and condition.shape[0] != batch_size:
        raise ValueError(f"{name} has {condition.shape[0]} labels for a batch of {batch_size}")
    if not _is_symbolic(condition):
        arr = np.asarray(condition)
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(f"{name} has label {int(bad)}; expected labels in [0, {num_classes})")
    return tf.cast(condition, tf.int32)


def checked_dataset(dataset, event_shape, num_levels, num_classes):
    """Validate a tf.data pipeline: element structure and dtype now, values as it runs.

    Value errors surface from ``fit`` as ValueError (see :func:`as_value_error`).
    """
    spec = dataset.element_spec
    if isinstance(spec, dict):
        raise ValueError(f"the dataset must yield x or (x, condition), got dict elements with keys {list(spec)}")
    x_spec, c_spec = (spec, None) if not isinstance(spec, tuple) else (spec + (None,))[:2]
    if not x_spec.dtype.is_integer:
        raise ValueError(
            f"the dataset yields x of dtype {x_spec.dtype.name}; expected integer levels in [0, {num_levels})"
        )
    check_events(tf.zeros([0 if d is None else d for d in x_spec.shape], tf.int32), event_shape, num_levels)
    if (c_spec is None) != (num_classes is None):
        what = "yields no labels" if c_spec is None else "yields labels"
        raise ValueError(f"the dataset {what} but the model has num_classes={num_classes}")

    def check(*element):
        x = element[0]
        asserts = [
            tf.debugging.assert_greater_equal(x, tf.cast(0, x.dtype), message=_TAG + f"x has a value < 0; expected levels in [0, {num_levels})"),
            tf.debugging.assert_less(x, tf.cast(num_levels, x.dtype), message=_TAG + f"x has a value >= {num_levels}; expected levels in [0, {num_levels})"),
        ]
        if num_classes is not None:
            c = element[1]
            asserts += [
                tf.debugging.assert_greater_equal(c, tf.cast(0, c.dtype), message=_TAG + f"a label is < 0; expected [0, {num_classes})"),
                tf.debugging.assert_less(c, tf.cast(num_classes, c.dtype), message=_TAG + f"a label is >= {num_classes}; expected [0, {num_classes})"),
            ]
        with tf.control_dependencies(asserts):
            return tuple(tf.identity(e) for e in element) if len(element) > 1 else tf.identity(x)

    return dataset.map(check)


def as_value_error(error):
    """Turn a tagged InvalidArgumentError from :func:`checked_dataset` into a ValueError."""
    message = str(getattr(error, "message", error))
    if _TAG in message:
        start = message.index(_TAG) + len(_TAG)
        return ValueError(message[start:].splitlines()[0])
    return None

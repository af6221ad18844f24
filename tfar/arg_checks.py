"""Checks of constructor and function arguments, shared by the layers, models, heads and data.

One rule for integer arguments everywhere: a Python int or a NumPy integer is accepted
(and returned as a Python int); a bool, a float (even 3.0), a string or None is not. A
failed check raises ValueError naming the argument, the bad value and what was expected,
e.g. ``num_resnet must be a positive int, got 0``.

(Checks of input *data*, such as pixel values, live in :mod:`tfar.models.checks`.)
"""

import numbers

import numpy as np


def is_int(value):
    """True for a Python int or a NumPy integer; False for a bool and anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def checked_int(name, value, expected, valid=lambda v: True, optional=False):
    """``int(value)`` when ``value`` is an int (see :func:`is_int`) with ``valid(value)``.

    Otherwise ValueError "<name> must be <expected>, got <value>". With ``optional``,
    None is accepted and returned, and "None or " is put before ``expected``.
    """
    if optional and value is None:
        return None
    if not is_int(value) or not valid(value):
        raise ValueError(f"{name} must be {'None or ' if optional else ''}{expected}, got {value!r}")
    return int(value)


def positive_int(name, value):
    """``value`` as an int >= 1."""
    return checked_int(name, value, "a positive int", lambda v: v >= 1)


def optional_positive_int(name, value):
    """None, or ``value`` as an int >= 1."""
    return checked_int(name, value, "a positive int", lambda v: v >= 1, optional=True)


def non_negative_int(name, value, optional=False):
    """``value`` as an int >= 0 (or None with ``optional``)."""
    return checked_int(name, value, "a non-negative int", lambda v: v >= 0, optional=optional)


def positive_multiple(name, value, factor, factor_text):
    """``value`` as a positive int divisible by ``factor``; the error says "divisible by <factor_text>"."""
    value = positive_int(name, value)
    if value % factor:
        raise ValueError(f"{name}={value} must be divisible by {factor_text}")
    return value


def odd_positive_int(name, value, reason=""):
    """``value`` as an odd int >= 1; ``reason`` (e.g. " (the kernel needs a centre)") ends the expectation."""
    return checked_int(name, value, f"an odd positive int{reason}", lambda v: v >= 1 and v % 2 == 1)


def check_color_channels(value, name="color_channels"):
    """``value`` as an int, 1 (grey) or 3 (RGB colour groups)."""
    return checked_int(name, value, "1 (grey) or 3 (RGB)", lambda c: c in (1, 3))


def int_pair(name, value, expected="an int or a pair of ints"):
    """``(a, b)`` from an int (``(value, value)``) or a pair of ints; ValueError otherwise."""
    if is_int(value):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        a = b = None
    if not (is_int(a) and is_int(b)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(a), int(b)


def rate_in_unit_interval(name, value):
    """``value`` as a float in [0, 1) (a dropout rate, a held-out fraction): any real number but a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)

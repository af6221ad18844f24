"""Skewing of an image map for the Diagonal BiLSTM (van den Oord et al. 2016, arXiv:1601.06759, sec. 3.2).

``skew`` offsets row ``i`` of a [B, H, W, C] map by ``i`` columns to the right,

    s[b, i, j] = x[b, i, j - i]   for 0 <= j - i < W, else 0,     s: [B, H, W + H - 1, C],

so each diagonal of ``x`` becomes a column of ``s``. ``unskew`` reads it back,
``x[b, i, j] = s[b, i, j + i]``; ``unskew(skew(x)) == x`` exactly. Both are a single
gather (no arithmetic), so they run on any device and keep the dtype.
"""

import numpy as np
import tensorflow as tf


def _static_hw(x, name):
    height, width = x.shape[1], x.shape[2]
    if x.shape.rank != 4 or height is None or width is None:
        raise ValueError(f"{name} needs a [batch, height, width, channels] map with static height and width, "
                         f"got shape {tuple(x.shape)}")
    return int(height), int(width)


def skew(x):
    """[B, H, W, C] -> [B, H, W + H - 1, C] with row i shifted right by i columns (zeros elsewhere)."""
    x = tf.convert_to_tensor(x)
    height, width = _static_hw(x, "skew")
    skewed_width = width + height - 1
    # a zero column appended to every row; out-of-range taps point at it
    padded = tf.pad(x, [[0, 0], [0, 0], [0, 1], [0, 0]])
    rows = np.arange(height)[:, None]
    source = np.arange(skewed_width)[None, :] - rows
    source = np.where((source >= 0) & (source < width), source, width)
    index = (rows * (width + 1) + source).reshape(-1)
    flat = tf.reshape(padded, [-1, height * (width + 1), padded.shape[-1] or tf.shape(x)[-1]])
    out = tf.gather(flat, tf.constant(index, tf.int32), axis=1)
    return tf.reshape(out, [-1, height, skewed_width, flat.shape[-1] or tf.shape(x)[-1]])


def unskew(s, width=None):
    """[B, H, W + H - 1, C] -> [B, H, W, C]: the inverse of :func:`skew`."""
    s = tf.convert_to_tensor(s)
    height, skewed_width = _static_hw(s, "unskew")
    if width is None:
        width = skewed_width - height + 1
    if width < 1 or width + height - 1 != skewed_width:
        raise ValueError(f"unskew: a skewed map of height {height} and width {skewed_width} cannot come from "
                         f"an image of width {width}")
    rows = np.arange(height)[:, None]
    index = (rows * skewed_width + np.arange(width)[None, :] + rows).reshape(-1)
    channels = s.shape[-1] or tf.shape(s)[-1]
    flat = tf.reshape(s, [-1, height * skewed_width, channels])
    out = tf.gather(flat, tf.constant(index, tf.int32), axis=1)
    return tf.reshape(out, [-1, height, width, channels])

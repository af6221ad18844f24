"""What the cached sampling steps of the image models share.

A step draws sub-pixel ``position`` in raster order, R -> G -> B inside a pixel,
writes the previous one (``x_prev``) into its caches and computes the network at the
current pixel only (Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models"). Buffers are updated with single-entry scatters, which XLA
performs in place inside a compiled loop; reads are gathers of the few entries needed.
"""

import tensorflow as tf

from tfar.layers.masked_conv2d import write_at


def sub_pixel_index(position, image_shape):
    """(row, column, channel) of sub-pixel ``position`` (0, 0, 0 for position < 0)."""
    _, width, colors = image_shape
    position = tf.maximum(position, 0)
    pixel = position // colors
    return pixel // width, pixel % width, position % colors


def write_channel(buffer, index, channel, value, write=True):
    """``buffer`` [B, *dims, C] with channel ``channel`` of its entry at ``index`` (one scalar per dim)
    set to ``value`` [B] where the scalar ``write`` holds."""
    old = buffer
    for axis in range(len(index), 0, -1):  # the last dim first: each gather reads only what remains
        old = tf.gather(old, index[axis - 1], axis=axis)
    write = tf.logical_and(tf.equal(tf.range(buffer.shape[-1]), channel), write)
    return write_at(buffer, index, tf.where(write, tf.cast(value, buffer.dtype)[:, None], old))


def write_image_rows(conv, rows, position, value, image_shape):
    """``conv``'s rows of image input (see :meth:`MaskedConv2D.output_at`) with sub-pixel
    ``position`` set to ``value`` [B]; unchanged for ``position < 0`` (before the first step)."""
    row, col, channel = sub_pixel_index(position, image_shape)
    index = [row % rows.shape[1], col + conv.kernel_size[1] // 2]
    return write_channel(rows, index, channel, value, position >= 0)


def updated_when(pred, update, state):
    """``update(state)`` when the scalar ``pred`` holds, else ``state`` (a dict of tensors).

    For the row-sized work a cached step does at the start of a row. It runs as a while
    loop of zero or one iterations, not a ``tf.cond``: inside an XLA-compiled loop a
    conditional copies every buffer its branch may change on every step, taken or not,
    whereas a loop that does not run leaves its carried buffers where they are.
    ``update`` should only compute on buffers it also changes: XLA hoists work on
    buffers the loop leaves unchanged out of it, and would then run it at every step.
    """
    keys = sorted(state)

    def body(count, values):
        new = update(dict(zip(keys, values)))
        return count - 1, [new[key] for key in keys]

    _, values = tf.while_loop(lambda count, values: count > 0, body,
                              (tf.cast(pred, tf.int32), [state[key] for key in keys]))
    return dict(zip(keys, values))


def pixel_params(model, raw, channel):
    """Params [B, *param_suffix] (float32) of sub-pixel ``channel`` from one pixel's raw output [B, C * params]."""
    raw = tf.reshape(tf.cast(raw, tf.float32), [tf.shape(raw)[0], model.image_shape[2], *model.head.param_suffix])
    return tf.gather(raw, channel, axis=1)

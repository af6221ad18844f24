"""Diagonal BiLSTM layer and skew/unskew: round trip, NumPy reference, exact dependencies."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfar.layers.diagonal_bilstm import DiagonalBiLSTMLayer, mirror, shift_down  # noqa: E402
from tfar.layers.skew import skew, unskew  # noqa: E402


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# ------------------------------------------------------------------ skew
@pytest.mark.parametrize("shape", [(2, 1, 1, 1), (2, 4, 5, 3), (1, 6, 2, 2), (3, 3, 7, 1)])
def test_skew_unskew_round_trip_is_exact(shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    s = skew(x).numpy()
    assert s.shape == (shape[0], shape[1], shape[2] + shape[1] - 1, shape[3])
    np.testing.assert_array_equal(unskew(s).numpy(), x)


def test_skew_places_row_i_at_offset_i_and_zeros_elsewhere():
    x = np.arange(1, 1 + 3 * 4, dtype=np.float32).reshape(1, 3, 4, 1)
    s = skew(x).numpy()[0, :, :, 0]
    expected = np.zeros((3, 6), np.float32)
    for i in range(3):
        expected[i, i:i + 4] = x[0, i, :, 0]
    np.testing.assert_array_equal(s, expected)


def test_skew_keeps_dtype_and_works_in_graph():
    x = tf.constant(np.arange(24).reshape(1, 4, 3, 2), tf.int32)
    s = tf.function(skew)(x)
    assert s.dtype == tf.int32
    np.testing.assert_array_equal(tf.function(unskew)(s).numpy(), x.numpy())


def test_mirror_and_shift_down():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(mirror(x, 2).numpy(), x[:, :, ::-1])
    shifted = shift_down(x).numpy()
    np.testing.assert_array_equal(shifted[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(shifted[:, 0], 0.0)


def test_unskew_rejects_inconsistent_width():
    with pytest.raises(ValueError, match="cannot come from an image of width"):
        unskew(tf.zeros([1, 3, 5, 1]), width=4)


# ------------------------------------------------------------- reference
def direction_reference(x, kernel, recurrent, bias, colors, leftward, row_inputs=None, row_kernel=None):
    """One diagonal LSTM direction in image coordinates: each pixel reads the pixel above
    and the previous pixel of its row (to the left, or to the right when ``leftward``)."""
    batch, height, width, in_channels = x.shape
    units = kernel.shape[-1] // 4
    group_in = np.arange(in_channels) // (in_channels // colors)
    group_out = np.arange(4 * units) // (4 * units // colors)
    z = x @ (kernel[0, 0] * (group_in[:, None] <= group_out[None, :])) + bias
    if row_inputs is not None:
        z = z + row_inputs @ row_kernel[0, 0]
    h = np.zeros((batch, height, width, units))
    c = np.zeros((batch, height, width, units))
    zero = np.zeros((batch, units))
    order = range(width - 1, -1, -1) if leftward else range(width)
    for i in range(height):
        for j in order:
            prev = j + 1 if leftward else j - 1
            h_side = h[:, i, prev] if 0 <= prev < width else zero
            c_side = c[:, i, prev] if 0 <= prev < width else zero
            h_above = h[:, i - 1, j] if i > 0 else zero
            pre = z[:, i, j] + h_above @ recurrent[0] + h_side @ recurrent[1]
            grouped = pre.reshape(batch, colors, 4, units // colors)
            gi, gf, go, gg = [grouped[:, :, n].reshape(batch, units) for n in range(4)]
            c[:, i, j] = sigmoid(gf) * c_side + sigmoid(gi) * np.tanh(gg)
            h[:, i, j] = sigmoid(go) * np.tanh(c[:, i, j])
    return h


def diagonal_reference(layer, x, colors, row_inputs=None):
    x = np.asarray(x, np.float64)
    w = [np.asarray(v, np.float64) for v in (layer.kernels + layer.recurrent_kernels + layer.biases)]
    forward = direction_reference(x, w[0], w[2], w[4], colors, leftward=False)
    row_kernel = None if layer.row_kernel is None else layer.row_kernel.numpy().astype(np.float64)
    backward = direction_reference(x, w[1], w[3], w[5], colors, leftward=True, row_inputs=row_inputs,
                                   row_kernel=row_kernel)
    shifted = np.zeros_like(backward)
    shifted[:, 1:] = backward[:, :-1]
    return forward + shifted


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0.0, 0.5, size=w.shape).astype(np.float32))


@pytest.mark.parametrize("colors,in_channels,units,shape", [(1, 2, 3, (4, 5)), (3, 6, 6, (5, 3)), (1, 1, 2, (1, 4))])
def test_matches_numpy_reference(colors, in_channels, units, shape):
    x = np.random.default_rng(1).normal(size=(2, *shape, in_channels)).astype(np.float32)
    layer = DiagonalBiLSTMLayer(units, color_channels=colors)
    layer(x)
    randomize(layer)
    expected = diagonal_reference(layer, x, colors)
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=2e-5)
    np.testing.assert_allclose(tf.function(layer)(tf.constant(x)).numpy(), expected, atol=2e-5)


def test_matches_numpy_reference_with_row_inputs():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    rows = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    layer = DiagonalBiLSTMLayer(3, color_channels=3)
    layer(x, row_inputs=rows)
    randomize(layer, seed=4)
    np.testing.assert_allclose(layer(x, row_inputs=rows).numpy(), diagonal_reference(layer, x, 3, rows), atol=2e-5)


@pytest.mark.parametrize("colors,in_channels,units,with_rows", [(1, 2, 3, False), (3, 6, 6, True)])
def test_forward_pixels_and_backward_rows_equal_the_layer(colors, in_channels, units, with_rows):
    """``forward_pixel`` pixel by pixel and ``backward_row`` row by row give the two directions,
    which sum to the NumPy reference (the backward one shifted down a row)."""
    height, width = 4, 5
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, height, width, in_channels)).astype(np.float32)
    rows = rng.normal(size=(2, height, width, 3)).astype(np.float32) if with_rows else None
    layer = DiagonalBiLSTMLayer(units, color_channels=colors)
    layer(x, row_inputs=rows) if with_rows else layer(x)
    randomize(layer, seed=7)
    expected = diagonal_reference(layer, x, colors, rows)
    zeros = np.zeros((2, width, units), np.float32)
    forward_above, backward_above = zeros, zeros
    for i in range(height):
        forward = np.zeros_like(zeros)
        h_left = c_left = np.zeros((2, units), np.float32)
        for j in range(width):
            h_left, c_left = layer.forward_pixel(x[:, i, j], forward_above[:, j], h_left, c_left)
            forward[:, j] = h_left.numpy()
        np.testing.assert_allclose(forward + backward_above, expected[:, i], atol=2e-5, err_msg=f"row {i}")
        backward_above = layer.backward_row(x[:, i], backward_above, None if rows is None else rows[:, i]).numpy()
        forward_above = forward


def dependency(layer, shape, seed=0, with_rows=False):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(1, *shape)).astype(np.float32))
    rows = tf.constant(rng.normal(size=(1, *shape)).astype(np.float32)) if with_rows else None
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        if with_rows:
            tape.watch(rows)
        y = layer(x, row_inputs=rows) if with_rows else layer(x)
    deps = tape.jacobian(y, x)[0, :, :, :, 0].numpy() != 0.0
    deps_rows = tape.jacobian(y, rows)[0, :, :, :, 0].numpy() != 0.0 if with_rows else None
    return deps, deps_rows


def test_exact_dependencies_full_context_and_colour_order():
    height, width, colors, units = 4, 5, 3, 3
    layer = DiagonalBiLSTMLayer(units, color_channels=colors)
    deps, _ = dependency(layer, (height, width, colors))
    expected = np.zeros_like(deps)
    for i in range(height):
        for j in range(width):
            for u in range(units):
                g = u // (units // colors)
                expected[i, j, u, :i] = True  # every earlier row, every column and colour
                expected[i, j, u, i, :j] = True  # the row so far
                expected[i, j, u, i, j] = np.arange(colors) <= g  # R -> G -> B inside the pixel
    np.testing.assert_array_equal(deps, expected)


def test_row_inputs_reach_only_earlier_rows():
    height, width = 3, 4
    layer = DiagonalBiLSTMLayer(2)
    _, deps_rows = dependency(layer, (height, width, 1), with_rows=True)
    for i in range(height):
        for j in range(width):
            seen = deps_rows[i, j].any(axis=(0, 3))  # [H, W]
            expected = np.zeros((height, width), bool)
            expected[:i, j:] = True  # the right-to-left quadrant of pixel (i - 1, j): earlier rows only
            np.testing.assert_array_equal(seen, expected, err_msg=f"output pixel {(i, j)}")


def test_row_inputs_must_be_consistent():
    layer = DiagonalBiLSTMLayer(2)
    layer(np.zeros((1, 3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="row_inputs must be passed on every call or on none"):
        layer(np.zeros((1, 3, 3, 1), np.float32), row_inputs=np.zeros((1, 3, 3, 1), np.float32))


def test_config_round_trip_and_registration(check_round_trip):
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 3)).astype(np.float32)
    check_round_trip(DiagonalBiLSTMLayer(6, color_channels=3, unit_forget_bias=False, name="diag"), x)


def test_mixed_precision_policy(check_mixed_precision):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype(np.float32)
    check_mixed_precision(lambda **kwargs: DiagonalBiLSTMLayer(4, **kwargs), x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"units": 4, "color_channels": 3}, "divisible by color_channels"),
        ({"units": -1}, "units must be a positive int"),
        ({"units": 3, "color_channels": 4}, "color_channels must be 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiagonalBiLSTMLayer(**kwargs)

"""Row LSTM layer: NumPy reference, exact dependency pattern (R -> G -> B), config, dtype."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfar.layers.row_lstm import RowLSTMLayer  # noqa: E402


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def split_gates(pre, colors):
    """Colour-major pre-activations [B, 4u] -> i, f, o, g each [B, u] with channels [R | G | B]."""
    batch, width = pre.shape
    units = width // 4
    grouped = pre.reshape(batch, colors, 4, units // colors)
    return [grouped[:, :, n].reshape(batch, units) for n in range(4)]


def row_lstm_reference(x, kernel, recurrent, bias, colors):
    """Pixel-by-pixel Row LSTM in float64 with its own mask-B rule."""
    x, kernel, recurrent, bias = (np.asarray(a, np.float64) for a in (x, kernel, recurrent, bias))
    batch, height, width, in_channels = x.shape
    k = kernel.shape[1]
    units = kernel.shape[-1] // 4
    group_in = np.arange(in_channels) // (in_channels // colors)
    group_out = np.arange(4 * units) // (4 * units // colors)
    h = np.zeros((batch, width, units))
    c = np.zeros((batch, width, units))
    out = np.zeros((batch, height, width, units))
    for i in range(height):
        new_h, new_c = np.zeros_like(h), np.zeros_like(c)
        for j in range(width):
            pre = np.tile(bias, (batch, 1))
            for t in range(k):
                jj = j + t - k // 2
                if not 0 <= jj < width:
                    continue
                if jj < j:  # left of the pixel: every channel
                    pre += x[:, i, jj] @ kernel[0, t]
                elif jj == j:  # the pixel itself: input group <= output group
                    pre += x[:, i, jj] @ (kernel[0, t] * (group_in[:, None] <= group_out[None, :]))
                pre += h[:, jj] @ recurrent[t]  # previous row, unmasked
            gi, gf, go, gg = split_gates(pre, colors)
            new_c[:, j] = sigmoid(gf) * c[:, j] + sigmoid(gi) * np.tanh(gg)
            new_h[:, j] = sigmoid(go) * np.tanh(new_c[:, j])
        h, c = new_h, new_c
        out[:, i] = h
    return out


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0.0, 0.5, size=w.shape).astype(np.float32))


@pytest.mark.parametrize("colors,in_channels,units,kernel_size", [(1, 2, 3, 3), (3, 6, 6, 3), (3, 3, 3, 5)])
def test_matches_numpy_reference(colors, in_channels, units, kernel_size):
    x = np.random.default_rng(1).normal(size=(2, 4, 5, in_channels)).astype(np.float32)
    layer = RowLSTMLayer(units, kernel_size=kernel_size, color_channels=colors)
    layer(x)
    randomize(layer)
    expected = row_lstm_reference(x, layer.kernel.numpy(), layer.recurrent_kernel.numpy(), layer.bias.numpy(), colors)
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=2e-5)
    # the same inside a graph
    np.testing.assert_allclose(tf.function(layer)(tf.constant(x)).numpy(), expected, atol=2e-5)


@pytest.mark.parametrize("colors,in_channels,units,kernel_size", [(1, 2, 3, 3), (3, 6, 6, 5)])
def test_pixel_steps_in_raster_order_equal_the_layer(colors, in_channels, units, kernel_size):
    """``pixel_step`` pixel by pixel, carrying (h, c) of the row above, reproduces the NumPy reference."""
    height, width, half = 4, 5, kernel_size // 2
    x = np.random.default_rng(3).normal(size=(2, height, width, in_channels)).astype(np.float32)
    layer = RowLSTMLayer(units, kernel_size=kernel_size, color_channels=colors)
    layer(x)
    randomize(layer, seed=5)
    expected = row_lstm_reference(x, layer.kernel.numpy(), layer.recurrent_kernel.numpy(), layer.bias.numpy(), colors)
    padded_x = np.pad(x, [(0, 0), (0, 0), (half, 0), (0, 0)])
    h_rows = np.zeros((2, width + 2 * half, units), np.float32)  # row above, zero columns each side
    c_rows = np.zeros((2, width, units), np.float32)
    for i in range(height):
        new_h, new_c = np.zeros_like(h_rows), np.zeros_like(c_rows)
        for j in range(width):
            h, c = layer.pixel_step(padded_x[:, i, j : j + half + 1], h_rows[:, j : j + kernel_size], c_rows[:, j])
            np.testing.assert_allclose(h.numpy(), expected[:, i, j], atol=2e-5, err_msg=f"pixel {(i, j)}")
            new_h[:, j + half], new_c[:, j] = h.numpy(), c.numpy()
        h_rows, c_rows = new_h, new_c


def dependency(layer, shape, seed=0):
    """Bool [H, W, units, H, W, C]: output (i, j, u) depends on input (i', j', c)."""
    x = tf.constant(np.random.default_rng(seed).normal(size=(1, *shape)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    jac = tape.jacobian(y, x)[0, :, :, :, 0].numpy()
    return jac != 0.0


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_exact_dependencies_triangle_and_colour_order(kernel_size):
    height, width, colors, units = 4, 7, 3, 3
    layer = RowLSTMLayer(units, kernel_size=kernel_size, color_channels=colors)
    deps = dependency(layer, (height, width, colors))
    r = kernel_size // 2
    expected = np.zeros_like(deps)
    for i in range(height):
        for j in range(width):
            for u in range(units):
                g = u // (units // colors)
                for ii in range(i + 1):
                    for jj in range(width):
                        if ii < i:  # triangle: r columns wider per row up, plus the 1 x k input reach
                            seen = j - (i - ii) * r - r <= jj <= j + (i - ii) * r
                            expected[i, j, u, ii, jj, :] = seen
                        elif jj < j:
                            expected[i, j, u, ii, jj, :] = jj >= j - r
                        elif jj == j:
                            expected[i, j, u, ii, jj, :] = np.arange(colors) <= g
    np.testing.assert_array_equal(deps, expected)


def test_red_state_ignores_green_and_blue_of_the_same_pixel():
    layer = RowLSTMLayer(6, color_channels=3)
    deps = dependency(layer, (3, 4, 3), seed=3)
    red_units = slice(0, 2)
    assert not deps[1, 2, red_units, 1, 2, 1:].any()  # R never reads G, B of its own pixel
    assert deps[1, 2, 4:, 1, 2, :].all()  # B reads R, G, B
    assert deps[1, 2, red_units, 0, 3, :].all()  # the previous row mixes all groups


def test_config_round_trip_and_registration(check_round_trip):
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 3)).astype(np.float32)
    check_round_trip(RowLSTMLayer(6, kernel_size=5, color_channels=3, unit_forget_bias=False, name="rows"), x)


def test_forget_bias_starts_at_one_in_colour_major_layout():
    layer = RowLSTMLayer(6, color_channels=3)
    layer(np.zeros((1, 2, 2, 3), np.float32))
    bias = layer.bias.numpy().reshape(3, 4, 2)
    np.testing.assert_array_equal(bias[:, 1], 1.0)
    np.testing.assert_array_equal(bias[:, [0, 2, 3]], 0.0)


def test_mixed_precision_policy(check_mixed_precision):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype(np.float32)
    check_mixed_precision(lambda **kwargs: RowLSTMLayer(4, **kwargs), x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"units": 4, "color_channels": 3}, "divisible by color_channels"),
        ({"units": 0}, "units must be a positive int"),
        ({"units": 3, "kernel_size": 4}, "kernel_size must be an odd"),
        ({"units": 3, "color_channels": 2}, "color_channels must be 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RowLSTMLayer(**kwargs)


def test_input_channels_must_split_into_colour_groups():
    with pytest.raises(ValueError, match="divisible by color_channels=3"):
        RowLSTMLayer(3, color_channels=3)(np.zeros((1, 2, 2, 4), np.float32))

import numpy as np
import pytest
import keras

from tfar.layers import MaskedConv2D, causal_mask


def reference_mask(k, cin, cout, mask_type, colors):
    """Independent loop version of the PixelCNN mask (paper fig. 2 and sec. 3.4)."""
    m = np.zeros((k, k, cin, cout), np.float32)
    c = k // 2
    for r in range(k):
        for s in range(k):
            for i in range(cin):
                for o in range(cout):
                    if r < c or (r == c and s < c):
                        m[r, s, i, o] = 1
                    elif r == c and s == c:
                        gi, go = i * colors // cin, o * colors // cout
                        m[r, s, i, o] = gi < go if mask_type == "A" else gi <= go
    return m


def numpy_conv_same(x, w, b):
    k = w.shape[0]
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    n, h, wd, _ = x.shape
    out = np.zeros((n, h, wd, w.shape[-1]), np.float64)
    for i in range(h):
        for j in range(wd):
            patch = xp[:, i : i + k, j : j + k, :]
            out[:, i, j] = np.einsum("nrsc,rsco->no", patch, w)
    return out + b


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("colors", [1, 3])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_mask_equals_reference(k, colors, mask_type):
    cin, cout = 3 * colors, 6 * colors
    np.testing.assert_array_equal(causal_mask(k, cin, cout, mask_type, colors), reference_mask(k, cin, cout, mask_type, colors))


def test_rgb_mask_centre_groups():
    m = causal_mask(3, 3, 3, "A", 3)[1, 1]
    # rows: input R, G, B; columns: output R, G, B
    np.testing.assert_array_equal(m, [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    m = causal_mask(3, 3, 3, "B", 3)[1, 1]
    np.testing.assert_array_equal(m, [[1, 1, 1], [0, 1, 1], [0, 0, 1]])


@pytest.mark.parametrize("k,colors,mask_type", [(3, 1, "A"), (5, 3, "B"), (7, 3, "A")])
def test_output_equals_numpy_masked_convolution(k, colors, mask_type):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 5, 3 * colors)).astype(np.float32)
    layer = MaskedConv2D(6, k, mask_type, colors, bias_initializer="random_normal")
    y = layer(x).numpy()
    w = layer.kernel.numpy() * reference_mask(k, 3 * colors, 6, mask_type, colors)
    np.testing.assert_allclose(y, numpy_conv_same(x, w, layer.bias.numpy()), atol=1e-4)


def test_mask_is_applied_at_initialization_even_with_nonzero_kernel():
    layer = MaskedConv2D(1, 3, "A")
    x = np.zeros((1, 3, 3, 1), np.float32)
    layer(x)
    layer.kernel.assign(np.ones((3, 3, 1, 1), np.float32))
    x[0, 1, 1, 0] = 1.0  # the centre pixel must not see itself under mask A
    assert layer(x).numpy()[0, 1, 1, 0] == 0.0
    x[0, 1, 2, 0] = 5.0  # nor its right neighbour
    assert layer(x).numpy()[0, 1, 1, 0] == 0.0


def test_config_round_trip():
    layer = MaskedConv2D(6, 5, "A", 3, use_bias=False, name="m")
    clone = MaskedConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_keras_save_load_round_trip(tmp_path):
    inputs = keras.Input((5, 5, 3))
    outputs = MaskedConv2D(6, 3, "B", 3)(MaskedConv2D(6, 3, "A", 3)(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 3)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(filters=4, kernel_size=4), "kernel_size"),
        (dict(filters=4, kernel_size=(3, 2)), "kernel_size"),
        (dict(filters=4, kernel_size=3, mask_type="C"), "'C'"),
        (dict(filters=4, kernel_size=3, color_channels=3), "filters=4"),
        (dict(filters=4, kernel_size=3, color_channels=2), "color_channels"),
        (dict(filters=4, kernel_size=1, mask_type="A"), "all-zero"),
        (dict(filters=0, kernel_size=3), "filters"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        MaskedConv2D(**kwargs)


def test_input_channels_must_split_into_colour_groups():
    with pytest.raises(ValueError, match="divisible"):
        MaskedConv2D(6, 3, "B", 3)(np.zeros((1, 4, 4, 4), np.float32))


# ------------------------------------------------------------ cached step
@pytest.mark.parametrize("kernel_size,colors,mask_type", [(3, 1, "B"), ((5, 3), 3, "A"), (7, 3, "B"), (1, 3, "B")])
def test_row_ring_outputs_equal_the_convolution_in_raster_order(kernel_size, colors, mask_type):
    """Pixels written one by one into the ring of rows give ``call``'s output at each pixel,
    over more rows than the ring holds (its slots are reused) and with junk in the colour
    groups of the current pixel that the mask hides."""
    rng = np.random.default_rng(0)
    height, width, cin = 7, 5, 2 * colors
    x = rng.normal(size=(2, height, width, cin)).astype(np.float32)
    layer = MaskedConv2D(3 * colors, kernel_size, mask_type, colors, bias_initializer="random_normal")
    full = layer(x).numpy()
    rows = layer.initial_rows(2, width)
    assert tuple(rows.shape) == (2, layer.kernel_size[0] // 2 + 1, width + 2 * (layer.kernel_size[1] // 2), cin)
    group_in, group_out = np.arange(cin) // 2, np.arange(3 * colors) // 3
    for i in range(height):
        for j in range(width):
            for g in range(colors):  # sub-pixel g: input groups >= g are not known yet
                hidden = group_in >= g if mask_type == "A" else group_in > g
                partial = np.where(hidden, rng.normal(size=(2, cin)) * 100, x[:, i, j]).astype(np.float32)
                out = layer.output_at(layer.write_rows(rows, i, j, partial), i, j).numpy()
                np.testing.assert_allclose(out[:, group_out == g], full[:, i, j, group_out == g], atol=1e-5,
                                           err_msg=f"pixel {(i, j)} group {g}")
            rows = layer.write_rows(rows, i, j, x[:, i, j])


def test_pixel_call_is_the_1x1_layer_on_one_pixel():
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 6)).astype(np.float32)
    layer = MaskedConv2D(9, 1, "B", 3, bias_initializer="random_normal")
    full = layer(x).numpy()
    np.testing.assert_allclose(layer.pixel_call(x[:, 1, 2]).numpy(), full[:, 1, 2], atol=1e-6)
    wide = MaskedConv2D(3, 3, "B")
    wide(x[..., :1])
    with pytest.raises(ValueError, match="1 x 1 kernel"):
        wide.pixel_call(x[:, 0, 0, :1])

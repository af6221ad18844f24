"""GatedBlock: configuration, shapes, argument checks and exact per-stack causality."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.layers.gated_block import GatedBlock, conv_as_matmul, gate, horizontal_mask


def _inputs(batch=2, height=4, width=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    h = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    return tf.constant(v), tf.constant(h)


def test_config_round_trip():
    block = GatedBlock(6, kernel_size=5, mask_type="A", color_channels=3, condition_dim=4, name="g")
    config = block.get_config()
    for key, value in dict(filters=6, kernel_size=5, mask_type="A", color_channels=3, residual=False,
                           condition_dim=4).items():
        assert config[key] == value
    clone = GatedBlock.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
    assert isinstance(restored, GatedBlock) and restored.get_config() == config


@pytest.mark.parametrize("mask_type, channels, condition_dim", [("A", 3, None), ("B", 6, 5)])
def test_output_shapes_and_weights(mask_type, channels, condition_dim):
    block = GatedBlock(6, kernel_size=3, mask_type=mask_type, color_channels=3, condition_dim=condition_dim)
    v, h = _inputs(channels=channels)
    condition = None if condition_dim is None else tf.ones([2, condition_dim])
    v_out, h_out, skip = block((v, h), condition=condition)
    assert tuple(v_out.shape) == tuple(h_out.shape) == tuple(skip.shape) == (2, 4, 5, 6)
    assert block.residual == (mask_type == "B")
    # horizontal kernel is 1 x (n//2 + 1); vertical kernel (n//2 + 1) x n
    assert tuple(block.horizontal_kernel.shape) == (1, 2, channels, 12)
    assert tuple(block.vertical_conv.kernel.shape) == (2, 3, channels, 12)
    assert (block.vertical_condition is not None) == (condition_dim is not None)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(filters=0), "0"),
        (dict(filters=2.5), "2.5"),
        (dict(filters=4, color_channels=3), "filters=4"),
        (dict(filters=6, kernel_size=4), "4"),
        (dict(filters=6, kernel_size="3"), "'3'"),
        (dict(filters=6, mask_type="C"), "'C'"),
        (dict(filters=6, color_channels=2), "2"),
        (dict(filters=6, kernel_size=1, mask_type="A"), "all-zero"),
        (dict(filters=6, residual="yes"), "'yes'"),
        (dict(filters=6, condition_dim=0), "condition_dim"),
    ],
)
def test_bad_arguments_raise(kwargs, needle):
    with pytest.raises(ValueError) as info:
        GatedBlock(**kwargs)
    assert needle in str(info.value)


def test_bad_call_raises():
    v, h = _inputs(channels=3)
    with pytest.raises(ValueError, match="residual=True"):
        GatedBlock(6, residual=True)((v, h))
    with pytest.raises(ValueError, match="condition_dim=None"):
        GatedBlock(6, residual=False)((v, h), condition=tf.ones([2, 3]))
    with pytest.raises(ValueError, match="condition_dim=3"):
        GatedBlock(6, residual=False, condition_dim=3)((v, h))


def test_gate_pairs_filter_and_gate_halves_of_each_colour_group():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 3, 12)).astype(np.float32)  # 3 colours x (filter 2, gate 2)
    out = gate(tf.constant(x), color_channels=3).numpy()
    expected = []
    for colour in range(3):
        start = colour * 4
        f, g = x[..., start : start + 2], x[..., start + 2 : start + 4]
        expected.append(np.tanh(f) / (1.0 + np.exp(-g)))
    np.testing.assert_allclose(out, np.concatenate(expected, axis=-1), rtol=1e-5, atol=1e-6)


def test_horizontal_mask_layout():
    mask = horizontal_mask(5, 3, 12, "A", 3)
    assert mask.shape == (1, 3, 3, 12)
    assert (mask[:, :2] == 1).all()  # pixels to the left: every colour
    centre = mask[0, 2]
    out_group, in_group = np.arange(12) // 4, np.arange(3)
    np.testing.assert_array_equal(centre, (in_group[:, None] < out_group[None, :]).astype(np.float32))
    centre_b = horizontal_mask(5, 3, 12, "B", 3)[0, 2]
    np.testing.assert_array_equal(centre_b, (in_group[:, None] <= out_group[None, :]).astype(np.float32))


def _jacobian(block, v, h, wrt, output, condition=None):
    """|d output / d input| summed over batch: [H, W, C_out, H, W, C_in]."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([v, h])
        outs = block((v, h), condition=condition)
    jac = tape.jacobian(outs[output], v if wrt == "v" else h)
    if jac is None:  # not connected at all
        return np.zeros(outs[output].shape[1:] + (v if wrt == "v" else h).shape[1:])
    return tf.reduce_sum(tf.abs(jac), axis=[0, 4]).numpy()  # batch of 1 on both sides


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("conditional", [False, True])
def test_stacks_are_causal(mask_type, conditional):
    keras.utils.set_random_seed(3)
    H, W, C, F = 4, 5, 3, 6
    block = GatedBlock(F, kernel_size=3, mask_type=mask_type, color_channels=3, residual=False,
                       condition_dim=2 if conditional else None)
    v, h = _inputs(batch=1, height=H, width=W, channels=C, seed=4)
    condition = tf.constant([[1.0, -1.0]]) if conditional else None
    rows = np.arange(H)[:, None, None, None, None, None]
    rows_in = np.arange(H)[None, None, None, :, None, None]
    cols = np.arange(W)[None, :, None, None, None, None]
    cols_in = np.arange(W)[None, None, None, None, :, None]
    out_group = (np.arange(F) // (F // 3))[None, None, :, None, None, None]
    in_group = np.arange(C)[None, None, None, None, None, :]

    # vertical stack: rows i-1 .. i, columns j-1 .. j+1 of v; never h
    dv = _jacobian(block, v, h, "v", 0, condition) > 0
    allowed = (rows_in <= rows) & (rows_in >= rows - 1) & (abs(cols_in - cols) <= 1)
    assert not (dv & ~allowed).any()
    assert dv[np.broadcast_to(allowed, dv.shape)].all()
    assert not (_jacobian(block, v, h, "h", 0, condition) > 0).any()

    for output in (1, 2):  # horizontal output and skip
        # from the vertical stack: exactly the rows strictly above (the shifted window)
        dhv = _jacobian(block, v, h, "v", output, condition) > 0
        allowed = (rows_in <= rows - 1) & (rows_in >= rows - 2) & (abs(cols_in - cols) <= 1)
        assert not (dhv & ~allowed).any()
        assert dhv[np.broadcast_to(allowed, dhv.shape)].all()
        # from the horizontal stack: the current row, columns j-1 .. j, colour rule at j
        dhh = _jacobian(block, v, h, "h", output, condition) > 0
        same_pixel_ok = (in_group < out_group) if mask_type == "A" else (in_group <= out_group)
        allowed = (rows_in == rows) & ((cols_in == cols - 1) | ((cols_in == cols) & same_pixel_ok))
        assert not (dhh & ~allowed).any()
        assert dhh[np.broadcast_to(allowed, dhh.shape)].all()


def test_residual_adds_the_horizontal_input():
    keras.utils.set_random_seed(0)
    v, h = _inputs(channels=6)
    with_res = GatedBlock(6, mask_type="B", residual=True)
    outs = with_res((v, h))
    without = GatedBlock(6, mask_type="B", residual=False)
    without((v, h))
    without.set_weights(with_res.get_weights())
    np.testing.assert_allclose(outs[1].numpy() - without((v, h))[1].numpy(), h.numpy(), atol=1e-5)


def test_condition_changes_both_stacks():
    keras.utils.set_random_seed(0)
    block = GatedBlock(6, mask_type="A", condition_dim=3)
    v, h = _inputs(channels=3)
    a = block((v, h), condition=tf.one_hot([0, 0], 3))
    b = block((v, h), condition=tf.one_hot([1, 2], 3))
    for x, y in zip(a, b):
        assert np.abs(x.numpy() - y.numpy()).max() > 1e-3


def test_mixed_precision_policy():
    block = GatedBlock(6, mask_type="A", color_channels=3, condition_dim=2, dtype="mixed_float16")
    v, h = _inputs(channels=3)
    outs = block((tf.cast(v, "float16"), tf.cast(h, "float16")), condition=tf.ones([2, 2], "float16"))
    assert all(o.dtype == tf.float16 for o in outs)
    assert all(w.dtype == "float32" for w in block.weights)
    assert all(np.isfinite(o.numpy()).all() for o in outs)


@pytest.mark.parametrize("kernel", [(1, 1), (2, 3), (3, 5)])
def test_conv_as_matmul_equals_a_valid_convolution(kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 7, 3)).astype(np.float32)
    w = rng.normal(size=(*kernel, 3, 5)).astype(np.float32)
    b = rng.normal(size=(5,)).astype(np.float32)
    expected = tf.nn.conv2d(x, w, 1, "VALID") + b
    np.testing.assert_allclose(conv_as_matmul(tf.constant(x), w, b).numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("kernel_size, mask_type, colors, conditional",
                         [(3, "A", 3, True), (5, "B", 1, False), (1, "B", 3, True)])
def test_row_and_pixel_forms_equal_the_two_stacks(kernel_size, mask_type, colors, conditional):
    """``vertical_row`` on a finished row and ``horizontal_pixel`` on one pixel reproduce ``call``."""
    keras.utils.set_random_seed(0)
    filters, k = 2 * colors, kernel_size // 2
    block = GatedBlock(filters, kernel_size, mask_type, colors, residual=mask_type == "B",
                       condition_dim=2 if conditional else None)
    v, h = _inputs(height=5, width=6, channels=filters if mask_type == "B" else colors)
    condition = tf.constant([[1.0, 0.0], [0.3, -2.0]]) if conditional else None
    block((v, h), condition=condition)
    for weight in block.weights:  # non-zero biases, so a missing term shows
        weight.assign(np.random.default_rng(1).normal(0, 0.5, weight.shape).astype(np.float32))
    v_out, link = block.vertical(v, condition)
    h_out, skip = block.horizontal(h, link, condition)
    constant = block.horizontal_bias.numpy() + np.zeros([2, 1], np.float32)
    if condition is not None:
        constant = constant + block.horizontal_condition(condition).numpy()
    first = block.first_row_offset(2, condition).numpy()
    np.testing.assert_allclose(first, link[:, 0, 0].numpy() + constant, atol=1e-5)
    padded_v = np.pad(v.numpy(), [(0, 0), (k, 0), (k, k), (0, 0)])
    padded_h = np.pad(h.numpy(), [(0, 0), (0, 0), (k, 0), (0, 0)])
    for i in range(5):
        offset = np.repeat(first[:, None], 6, axis=1) if i == 0 else row_offset
        for j in range(6):
            pixel_out, pixel_skip = block.horizontal_pixel(tf.constant(padded_h[:, i, j : j + k + 1]), offset[:, j])
            np.testing.assert_allclose(pixel_out.numpy(), h_out[:, i, j].numpy(), atol=1e-5, err_msg=f"{(i, j)}")
            np.testing.assert_allclose(pixel_skip.numpy(), skip[:, i, j].numpy(), atol=1e-5, err_msg=f"{(i, j)}")
        row_v, row_offset = (t.numpy() for t in block.vertical_row(tf.constant(padded_v[:, i : i + k + 1]), condition))
        np.testing.assert_allclose(row_v, v_out[:, i].numpy(), atol=1e-5, err_msg=f"row {i}")
        if i + 1 < 5:
            np.testing.assert_allclose(row_offset, link[:, i + 1].numpy() + constant[:, None], atol=1e-5)

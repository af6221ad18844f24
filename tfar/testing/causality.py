"""Exact causality checks for any AutoregressiveModel at random initialization.

The dependency matrix ``D[o, i]`` says whether the output parameters at position ``o``
depend on the input at position ``i`` (positions flattened in the model's order:
raster order with R -> G -> B inside a pixel, or time for audio). It is computed from
gradients: ``d sum(params[o]) / d h[i]`` where ``h = model.embed_input(x)``.
A causal model has ``D[o, i] = 0`` for every ``i >= o`` (the pattern of the gradient
test in TFP's ``pixel_cnn_test.py``).
"""

import numpy as np
import tensorflow as tf


def _event(model, length):
    return [length if d is None else d for d in model.event_shape]


def random_input(model, batch=1, seed=0, length=None):
    rng = np.random.default_rng(seed)
    return rng.integers(0, model.num_levels, size=[batch, *_event(model, length)]).astype(np.int32)


def _labels(model, batch, condition):
    if model.num_classes is None:
        return None
    value = 0 if condition is None else int(condition)
    return tf.fill([batch], value)


def dependency_matrix(model, condition=None, seed=0, length=None, relative_tolerance=0.0, num_inputs=3):
    """Bool [N, N]: ``D[o, i]`` is True when output position o depends on input i.

    Gradients are taken at ``num_inputs`` random inputs and combined, so a ReLU that
    happens to be inactive at one input does not hide a dependency. With the default
    ``relative_tolerance=0`` any non-zero gradient counts: masks, shifts and cropped
    recurrences give exact zeros, so "no influence" means exactly zero.
    """
    magnitude = sum(_gradient_magnitude(model, condition, seed + k, length) for k in range(num_inputs))
    return magnitude > relative_tolerance * magnitude.max()


def _gradient_magnitude(model, condition, seed, length):
    n = model.num_positions(length)
    x = tf.constant(np.repeat(random_input(model, 1, seed, length), n, axis=0))
    labels = _labels(model, n, condition)
    h = tf.cast(model.embed_input(x), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(h)
        raw = tf.cast(model.network(tf.cast(h, model.compute_dtype), labels, training=False), tf.float32)
        params = tf.reshape(raw, [n, n, -1])
        # example b of the batch asks: which inputs does output position b see?
        picked = tf.reduce_sum(params * tf.one_hot(tf.range(n), n)[:, :, None])
    grads = tape.gradient(picked, h)
    grads = tf.reshape(tf.abs(grads), [n, n, -1])
    return tf.reduce_max(grads, axis=-1).numpy().astype(np.float64)


def perturbation_violations(model, condition=None, seed=0, length=None, atol=1e-5):
    """Positions q where changing x[q] changed an output at a position <= q (should be empty).

    Every position is probed, all in one batch: example q changes x[q] alone. Outputs at
    positions <= q must stay the same up to ``atol`` (convolution algorithms may round a
    masked-out zero contribution differently, so not bit for bit).
    """
    n = model.num_positions(length)
    x = random_input(model, 1, seed, length)
    rng = np.random.default_rng(seed + 1)
    flat = x.reshape(n, -1)  # one row per position (a sub-pixel, or a whole pixel)
    changed = np.repeat(flat[None], n + 1, axis=0)  # example n is the unchanged input
    shift = 1 + rng.integers(0, model.num_levels - 1, size=(n, flat.shape[1]))
    changed[np.arange(n), np.arange(n)] = (flat + shift) % model.num_levels
    labels = _labels(model, n + 1, condition)
    out = tf.reshape(model(changed.reshape(n + 1, *x.shape[1:]), condition=labels), [n + 1, n, -1]).numpy()
    base = out[n]
    return [q for q in range(n) if not np.allclose(out[q, : q + 1], base[: q + 1], atol=atol, rtol=0)]


def assert_causal(model, condition=None, seed=0, length=None):
    """Assert strict causality (gradients and perturbations); return the dependency matrix."""
    deps = dependency_matrix(model, condition=condition, seed=seed, length=length)
    future = np.argwhere(np.triu(deps))
    assert future.size == 0, (
        f"output position {future[0][0]} depends on input position {future[0][1]} (not strictly earlier); "
        f"{len(future)} violations in all"
    )
    blind = [o for o in range(1, deps.shape[0]) if not deps[o].any()]
    assert not blind, f"output positions {blind[:10]} depend on no earlier input at all"
    violations = perturbation_violations(model, condition=condition, seed=seed, length=length)
    assert not violations, f"changing the input at positions {violations} changed outputs at or before them"
    return deps


def earlier_pixels_seen(deps, image_shape, row, col):
    """Bool [H, W]: which pixels feed any channel of the output at pixel (row, col)."""
    h, w, _ = image_shape
    per_pixel = deps.shape[0] // (h * w)  # positions per pixel: C, or 1 for per-pixel heads
    o = (row * w + col) * per_pixel
    seen = deps[o : o + per_pixel].any(axis=0).reshape(h, w, per_pixel).any(axis=-1)
    return seen

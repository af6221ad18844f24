"""concat_elu's hand-written gradient and the gated block's auxiliary input given in parts."""

import numpy as np
import pytest
import tensorflow as tf

from tfar.layers.gated_resnet import GatedResNet, concat_elu


def reference_concat_elu(*xs):
    """The straightforward definition, differentiated by TF: elu(concat([x, -x])) of the concatenated inputs."""
    x = tf.concat(list(xs), axis=-1)
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16, tf.float16])
@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_concat_elu_and_its_gradient_equal_the_reference_bit_for_bit(dtype, parts, jit_compile):
    rng = np.random.default_rng(parts)
    xs = [tf.constant(rng.normal(size=(2, 3, 4, c)) * 2, dtype) for c in (3, 5)[:parts]]
    xs[0] = tf.tensor_scatter_nd_update(xs[0], [[0, 0, 0, 0]], tf.zeros([1], dtype))  # elu' at 0 too
    cotangent = tf.constant(rng.normal(size=(2, 3, 4, 2 * sum(x.shape[-1] for x in xs))), dtype)

    @tf.function(jit_compile=jit_compile)
    def values_and_gradients(fn, *xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = fn(*xs)
        return y, tape.gradient(y, xs, output_gradients=cotangent)

    y, grads = values_and_gradients(concat_elu, *xs)
    y_ref, grads_ref = values_and_gradients(reference_concat_elu, *xs)
    assert y.dtype == dtype and y.shape == y_ref.shape
    np.testing.assert_array_equal(y.numpy(), y_ref.numpy())
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_array_equal(g.numpy(), g_ref.numpy())


def test_auxiliary_input_in_parts_equals_its_concatenation():
    """a=[u, s] is a=concat([u, s]): same outputs and gradients, same weights."""
    rng = np.random.default_rng(0)
    x, u, s = (tf.constant(rng.normal(size=(2, 5, 5, c)), tf.float32) for c in (4, 4, 3))
    block = GatedResNet(4, (2, 2), "down_right", dropout_p=0.0, auxiliary=True)
    block(x, a=tf.concat([u, s], axis=-1))
    assert block.aux_proj.kernel.shape == (14, 4)

    def run(a_of):
        with tf.GradientTape() as tape:
            tape.watch([x, u, s])
            y = block(x, a=a_of(u, s))
        return [y, *tape.gradient(y, [x, u, s, *block.trainable_variables])]

    for got, want in zip(run(lambda u, s: [u, s]), run(lambda u, s: tf.concat([u, s], axis=-1))):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


def test_concat_elu_gradient_with_channels_unknown_while_tracing():
    def weighted_sum_gradients(fn, x, s):
        with tf.GradientTape() as tape:
            tape.watch([x, s])
            y = fn(x, s)
            loss = tf.reduce_sum(y * tf.range(1.0, 1.0 + tf.cast(tf.shape(y)[-1], tf.float32)))
        return tape.gradient(loss, [x, s])

    traced = tf.function(lambda x, s: weighted_sum_gradients(concat_elu, x, s),
                         input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([None, None])])
    x, s = tf.constant([[0.5, -1.0]]), tf.constant([[2.0]])
    for got, want in zip(traced(x, s), weighted_sum_gradients(reference_concat_elu, x, s)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())

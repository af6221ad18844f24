import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfar.data.audio import audio_dataset
from tfar.layers.causal_dilated_conv1d import ring_buffer_slots
from tfar.models.wavenet import WaveNet
from tfar.sampling import sample_fast, sample_naive
from tfar.sampling.loop import CHUNK, fast_loop
from tfar.testing import assert_causal, dependency_matrix, max_step_error, total_probability

CORPUS = "/usr/share/asterisk/sounds/en_US_f_Allison"
TINY = dict(residual_channels=8, dilation_channels=8, skip_channels=8)


def sample_all(model, num_samples, **kwargs):
    """Samples of the fast, naive and parallel methods; asserts that they are identical and returns them."""
    fast = model.sample(num_samples, **kwargs).numpy()
    for method in ("naive", "parallel"):
        np.testing.assert_array_equal(model.sample(num_samples, method=method, **kwargs).numpy(), fast,
                                      err_msg=method)
    return fast


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    config = dict(num_stacks=2, layers_per_stack=3, num_levels=16, **TINY)
    config.update(kwargs)
    model = WaveNet(**config)
    model.build()
    return model


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_causal_and_dependency_span_equals_receptive_field(kernel_size):
    model = tiny(num_stacks=1, layers_per_stack=3, kernel_size=kernel_size)
    field = model.receptive_field
    assert field == (kernel_size - 1) * (1 + 2 + 4) + 1
    length = field + 6
    deps = assert_causal(model, length=length)
    for o in range(1, length):
        seen = np.flatnonzero(deps[o])
        assert seen.max() == o - 1
        assert seen.min() == max(0, o - field)
        assert len(seen) == min(o, field)  # every sample of the window is used
    assert not deps[0].any()


def test_causal_with_global_condition():
    model = tiny(num_classes=3)
    deps = assert_causal(model, condition=2, length=12)
    assert deps.sum() > 0
    assert np.array_equal(deps, dependency_matrix(model, condition=1, length=12))


@pytest.mark.parametrize("num_classes", [None, 2])
def test_probabilities_sum_to_one(num_classes):
    model = tiny(num_stacks=1, layers_per_stack=2, num_levels=4, num_classes=num_classes)
    total = total_probability(model, length=3, condition=None if num_classes is None else 1)
    assert abs(total - 1.0) < 1e-5


def test_fast_naive_and_parallel_sampling_agree_and_keep_the_prompt():
    model = tiny()
    assert model.receptive_field == 15
    fast = sample_all(model, 3, length=60, seed=7)  # 4 receptive fields: every ring buffer wraps around
    assert fast.shape == (3, 60) and len(np.unique(fast)) > 3
    # a low temperature lets the (nearly flat, freshly initialised) logits rather than the noise decide
    prompt = np.random.default_rng(0).integers(0, 16, size=(3, 9))
    fast = sample_all(model, 3, length=60, seed=8, prefix=prompt, temperature=0.05)
    np.testing.assert_array_equal(fast[:, :9], prompt)
    other = model.sample(3, length=60, seed=8, prefix=(prompt + 1) % 16, temperature=0.05).numpy()
    assert not np.array_equal(other[:, 9:], fast[:, 9:])  # the continuation depends on the prompt


def test_fast_naive_and_parallel_sampling_agree_with_global_condition():
    model = tiny(num_classes=3, kernel_size=3)
    assert max_step_error(model, condition=2, length=3 * model.receptive_field) < 1e-4
    labels = np.array([0, 2, 1])
    for temperature in (1.0, 0.05):
        fast = sample_all(model, 3, length=40, seed=3, condition=labels, temperature=temperature)
    other = model.sample(3, length=40, seed=3, condition=labels[::-1], temperature=0.05).numpy()
    assert not np.array_equal(other[0], fast[0])  # the label steers generation


def test_ring_buffer_slots_hold_the_last_taps_of_every_layer():
    """Simulate the packed ring buffers with the slots of ring_buffer_slots against plain per-layer histories."""
    kernel_size, dilations = 3, [1, 2, 4, 1]
    history = np.full(sum((kernel_size - 1) * d for d in dilations), -1)  # -1: never written (zero padding)
    for t in range(40):  # the longest ring (8 slots) wraps around 5 times
        read, write = (v.numpy() for v in ring_buffer_slots(tf.constant(t), kernel_size, dilations))
        expected = [t - m * d for d in dilations for m in range(kernel_size - 1, 0, -1)]
        np.testing.assert_array_equal(history[read], [v if v >= 0 else -1 for v in expected], err_msg=f"t={t}")
        history[write] = t


def _while_body(hlo_text):
    """The text of the computation that the (first) while loop of an HLO module runs as its body."""
    name = re.search(r"body=(%[\w.\-]+)", hlo_text).group(1)
    start = re.search(re.escape(name) + r" \(", hlo_text).start()
    return hlo_text[start : hlo_text.index("\n}\n", start)]


def test_compiled_sampling_loop_updates_the_history_in_place():
    """XLA must write the one new slot per layer into the history, not copy the whole history every step."""
    model = tiny(num_stacks=3)
    state = model.initial_state(2)
    args = (tf.zeros([2], tf.int32), state, tf.constant(0), tf.constant(8), tf.constant([1, 0]), tf.constant(1.0),
            tf.zeros([2, CHUNK], tf.int32), tf.constant(0))
    hlo = fast_loop(model, CHUNK, jit=True).experimental_get_compiler_ir(*args)(stage="optimized_hlo")
    body = _while_body(hlo)
    slots = state["history"].shape[0]
    assert f"f32[{slots},2,8]" in body  # the history is carried through the loop
    copies = [line for line in body.splitlines() if re.search(rf"= f32\[{slots},2,8\]\S* copy\(", line)]
    assert not copies, copies


def test_samplers_are_built_once_per_model():
    model = tiny(num_stacks=1)
    for method in ("fast", "naive", "parallel"):
        for seed in (1, 2):
            model.sample(2, length=12, seed=seed, method=method)
    for name in ("fast_xla", "naive", "parallel"):
        assert getattr(model, f"_tfar_sampler_{name}").experimental_get_tracing_count() == 1, name


def test_step_is_a_pure_function_of_explicit_state():
    model = tiny()
    state = model.initial_state(2)
    leaves = tf.nest.flatten(state)
    assert all(isinstance(leaf, tf.Tensor) for leaf in leaves)
    weights = [w.numpy().copy() for w in model.weights]
    x = tf.constant([3, 5])
    p1, s1 = model.step(x, state)
    p2, s2 = model.step(x, state)
    np.testing.assert_array_equal(p1.numpy(), p2.numpy())
    assert int(s1["position"]) == 1 and int(state["position"]) == 0
    assert s1["history"].shape == state["history"].shape
    for before, after in zip(weights, model.weights):
        np.testing.assert_array_equal(before, after.numpy())
    # teacher-forced steps reproduce the parallel logits
    codes = np.random.default_rng(1).integers(0, 16, size=(2, 3 * model.receptive_field))
    full = model(codes).numpy()
    state, prev = model.initial_state(2), tf.zeros([2], tf.int32)
    for t in range(codes.shape[1]):  # the ring buffers wrap around
        logits, state = model.step(prev, state)
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)
        prev = tf.constant(codes[:, t])


def test_global_condition_changes_log_prob():
    model = tiny(num_classes=4)
    x = np.random.default_rng(2).integers(0, 16, size=(2, 25))
    a = model.log_prob(x, condition=np.array([0, 0])).numpy()
    b = model.log_prob(x, condition=np.array([3, 3])).numpy()
    assert np.all(np.abs(a - b) > 1e-4)
    with pytest.raises(ValueError, match="condition"):
        model.log_prob(x)


def test_local_frame_influences_only_its_window_onward():
    model = tiny(num_stacks=1, local_condition_channels=3, upsample_factors=[2, 3])
    hop, frames = 6, 5
    assert model.hop == hop and model.look_ahead == hop - 1
    codes = np.random.default_rng(3).integers(0, 16, size=(1, hop * frames))
    features = tf.constant(np.random.default_rng(4).normal(size=(1, frames, 3)), tf.float32)
    for t in range(hop * frames):
        with tf.GradientTape() as tape:
            tape.watch(features)
            out = tf.reduce_sum(model(codes, features=features)[0, t])
        grad = np.abs(tape.gradient(out, features).numpy()[0]).max(axis=-1)
        frame = t // hop
        assert np.all(grad[frame + 1 :] == 0), f"sample {t} sees frames after {frame}"
        assert grad[frame] > 0, f"sample {t} ignores its own frame {frame}"
    log_p = model.log_prob(codes, features=features).numpy()
    assert np.isfinite(log_p).all()
    assert abs(float(model.log_prob(codes, features=features + 1.0)[0]) - float(log_p[0])) > 1e-4


def test_local_conditioned_sampling_fast_naive_and_parallel_agree():
    model = tiny(num_stacks=1, local_condition_channels=3, upsample_factors=[4], num_classes=2)
    features = np.random.default_rng(5).normal(size=(2, 6, 3)).astype(np.float32)
    labels = np.array([1, 0])
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    fast = sample_all(model, 2, length=24, seed=1, features=features, condition=labels, prefix=prompt,
                      temperature=0.05)
    np.testing.assert_array_equal(fast[:, :3], prompt)
    with pytest.raises(ValueError, match="frames cover"):
        model.sample(2, length=25, features=features, condition=labels)


def test_local_features_without_labels_go_through_the_shared_sampler():
    model = tiny(num_stacks=1, local_condition_channels=3, upsample_factors=[2, 2])
    features = np.random.default_rng(7).normal(size=(2, 5, 3)).astype(np.float32)
    fast = model.sample(2, length=20, seed=3, features=features).numpy()
    np.testing.assert_array_equal(fast, model.sample(2, length=20, seed=3, features=features, method="naive").numpy())
    assert not np.array_equal(fast, model.sample(2, length=20, seed=3, features=features + 2.0).numpy())
    # the loop passes the condition nest through untouched, None leaves included
    condition = {"labels": None, "features": tf.constant(features)}
    for sampler in (sample_fast, sample_naive):
        np.testing.assert_array_equal(sampler(model, 2, tf.constant([3, 0]), condition=condition, length=20), fast)
    with pytest.raises(ValueError, match="locally conditioned"):
        model.sample(2, length=20)
    with pytest.raises(ValueError, match="features have batch 2, expected 3"):
        model.sample(3, length=20, features=features)


def test_config_round_trip_and_save_load(tmp_path):
    model = tiny(num_classes=2, kernel_size=3)
    config = model.get_config()
    clone = WaveNet.from_config(config)
    assert clone.get_config() == config
    x = np.random.default_rng(6).integers(0, 16, size=(2, 12))
    labels = np.array([0, 1])
    path = tmp_path / "wavenet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x, labels).numpy(), model.log_prob(x, labels).numpy(), rtol=1e-6)
    assert loaded.event_shape == (None,) and loaded.receptive_field == model.receptive_field


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="num_logistic_mix"):
        WaveNet(output="logistic_mixture", num_logistic_mix=0)
    with pytest.raises(ValueError, match="output"):
        WaveNet(output="gaussian")
    with pytest.raises(ValueError, match="kernel_size"):
        WaveNet(kernel_size=1)
    with pytest.raises(ValueError, match="upsample_factors"):
        WaveNet(local_condition_channels=4)
    model = tiny()
    with pytest.raises(ValueError, match="length"):
        model.sample(1)
    with pytest.raises(ValueError, match="prefix"):
        model.sample(1, length=4, prefix=np.zeros([1, 5], np.int32))
    with pytest.raises(ValueError, match="features"):
        model.sample(1, length=4, features=np.zeros([1, 1, 1], np.float32))
    with pytest.raises(ValueError):
        model.log_prob(np.full([1, 5], 16))


def test_short_fit_on_real_speech_beats_uniform():
    keras.utils.set_random_seed(0)
    train = audio_dataset(CORPUS, 1024, 8, seed=0)
    test = audio_dataset(CORPUS, 1024, 8, split="test")
    model = WaveNet(num_stacks=1, layers_per_stack=6, residual_channels=16, dilation_channels=16, skip_channels=32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(test, verbose=0, return_dict=True)["loss"]
    assert abs(before - math.log(256)) < 0.05
    history = model.fit(train, steps_per_epoch=40, epochs=1, verbose=0)
    after = model.evaluate(test, verbose=0, return_dict=True)["loss"]
    assert history.history["loss"][-1] < math.log(256)
    assert after < math.log(256) - 0.2


def test_mixed_precision_policy_is_followed():
    model = tiny(num_stacks=1, num_classes=2, dtype="mixed_bfloat16")
    assert model.input_projection.compute_dtype == "bfloat16" and model.dilated[0].kernel.dtype == "float32"
    x = np.random.default_rng(7).integers(0, 16, size=(2, 10))
    assert model(x, condition=np.array([0, 1])).dtype == tf.float32
    assert np.isfinite(model.log_prob(x, np.array([0, 1])).numpy()).all()
    labels = np.array([1, 0])
    fast = model.sample(2, length=8, seed=2, condition=labels).numpy()
    np.testing.assert_array_equal(fast, model.sample(2, length=8, seed=2, condition=labels, method="naive").numpy())


def test_local_conditioned_fit_on_codes_and_features(tmp_path):
    rate, hop = 8000, 40
    t = np.arange(rate // 2) / rate
    wave = 0.5 * np.sin(2 * np.pi * (300 + 400 * t) * t)
    tf.io.write_file(str(tmp_path / "chirp.wav"), tf.audio.encode_wav(wave[:, None].astype(np.float32), rate))
    ds = audio_dataset(str(tmp_path), 400, 4, split="all", repeat=True, local_features=dict(hop=hop, num_mels=6))
    model = tiny(num_stacks=1, num_levels=256, local_condition_channels=6, upsample_factors=[4, 10])
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    history = model.fit(ds, steps_per_epoch=15, epochs=1, verbose=0)
    assert history.history["loss"][-1] < math.log(256)
    codes, features = next(iter(ds))
    assert model.log_prob(codes, features=features).shape == (4,)
    with pytest.raises(ValueError, match="features"):
        model.log_prob(codes)


def test_logistic_mixture_output_is_a_causal_normalized_distribution():
    model = tiny(output="logistic_mixture", num_logistic_mix=3, num_levels=4, num_stacks=1, layers_per_stack=2)
    assert model(np.zeros((2, 5), np.int32)).shape == (2, 5, 9)  # K * (logit, mean, log-scale)
    assert_causal(model, length=6)
    assert abs(total_probability(model, length=3) - 1.0) < 1e-5
    assert max_step_error(model, length=8) < 1e-5
    sample_all(model, 3, length=10, seed=4)
    assert model.get_config()["output"] == "logistic_mixture"
    assert WaveNet.from_config(model.get_config()).get_config() == model.get_config()


def test_logistic_mixture_fit_lowers_the_loss():
    model = tiny(output="logistic_mixture", num_logistic_mix=2, num_levels=256)
    t = np.arange(256)
    x = np.stack([(128 + 60 * np.sin(t / (4 + k))).astype(np.int32) for k in range(16)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=8, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.5

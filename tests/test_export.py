"""SavedModel and ONNX exports reproduce the in-process model exactly.

Every model class of tfar.models with a tiny config below is exported once per module
(unconditional, plus a class-conditional PixelCNN); the reloaded SavedModel and the
ONNX graphs are compared with ``log_prob``, ``sample`` and ``step`` of the model.
"""

import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import tfar.models
from tfar.cli.export import run as export_main
from tfar.export.onnx_graphs import onnx
from tfar.export.saved_model_signatures import feature_channels, flatten_state, model_condition, saved_model
from tfar.export.warmup import read_warmup
from tfar.models.base import AutoregressiveModel
from tfar.models.pixelcnn import PixelCNN

from session_loader import SessionModel  # tests/session_loader.py (tests/ is on sys.path)

SESSION_LOADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "session_loader.py")

# class name -> tiny constructor arguments (every public model class must be here)
CONFIGS = {
    "PixelCNN": dict(image_shape=(5, 5, 1), num_levels=4, filters=4, num_residual_blocks=1, output_filters=8,
                     kernel_size=3),
    "GatedPixelCNN": dict(image_shape=(5, 5, 1), num_levels=4, num_layers=2, filters=4, kernel_size=3,
                          input_kernel_size=3, output_filters=8),
    "PixelCNNPlusPlus": dict(image_shape=(4, 4, 1), num_levels=4, num_resnet=1, num_hierarchies=2, num_filters=4,
                             num_logistic_mix=2, dropout_p=0.0),
    "RowLSTM": dict(image_shape=(5, 5, 1), num_levels=4, units=4, num_layers=1, output_filters=8, kernel_size=3),
    "DiagonalBiLSTM": dict(image_shape=(5, 5, 1), num_levels=4, units=4, num_layers=1, output_filters=8,
                           kernel_size=3),
    "WaveNet": dict(num_stacks=1, layers_per_stack=2, residual_channels=4, dilation_channels=4, skip_channels=8,
                    kernel_size=2, num_levels=8),
    # conditioned on local feature frames (mel bands): sample, initial_state and step carry the frames
    "WaveNetVocoder": dict(features=dict(sample_rate=8000, frame_length=16, hop_length=4, num_mels=5, fmin=0.0,
                                         fmax=4000.0),
                           local_condition_channels=3, upsample_factors=[2, 2], num_stacks=1, layers_per_stack=2,
                           residual_channels=4, dilation_channels=4, skip_channels=8, kernel_size=2, num_levels=8),
}
NUM_CLASSES = 3
AUDIO_LENGTHS = (12, 7)
FRAMES = 3  # local feature frames of a vocoder's requests (hop 4: 12 samples, the longest of AUDIO_LENGTHS)


def _model_class(name):
    return getattr(tfar.models, name)  # a class that fails to import fails here, loudly


# (class, class-conditional, config overrides): every class, plus the conditional and RGB families
CASES = [(name, False, {}) for name in CONFIGS] + [("PixelCNN", True, {}),
                                                   ("GatedPixelCNN", True, {"image_shape": (4, 4, 3), "filters": 6,
                                                                     "output_filters": 9})]


def _case_id(case):
    return case[0] + ("-conditional" if case[1] else "") + ("-rgb" if case[2].get("image_shape", (0, 0, 1))[2] == 3
                                                            else "")


def test_every_exported_model_class_has_a_tiny_config():
    public = [
        name for name, obj in vars(tfar.models).items()
        if inspect.isclass(obj) and issubclass(obj, AutoregressiveModel) and obj is not AutoregressiveModel
        and not name.startswith("_")
    ]
    assert sorted(public) == sorted(CONFIGS)


class Exported:
    def __init__(self, model, conditional, root):
        self.model = model
        self.conditional = conditional
        self.audio = model.event_shape[0] is None
        self.channels = feature_channels(model)
        self.sm_dir = saved_model(model, os.path.join(root, "saved_model"))
        self.loaded = tf.saved_model.load(self.sm_dir)
        self.onnx_dir = os.path.join(root, "onnx")
        self.onnx_paths = onnx(model, self.onnx_dir)

    def condition(self, batch):
        return np.arange(batch, dtype=np.int32) % NUM_CLASSES if self.conditional else None

    def features(self, batch):
        """Local feature frames [batch, FRAMES, C] of a model conditioned on them (a vocoder), else None."""
        if self.channels is None:
            return None
        return np.random.default_rng(batch).normal(size=(batch, FRAMES, self.channels)).astype(np.float32)

    def cond_kwargs(self, batch, tensor=True):
        """The signature inputs that condition a request of ``batch`` examples."""
        inputs = {"condition": self.condition(batch), "features": self.features(batch)}
        return {k: tf.constant(v) if tensor else v for k, v in inputs.items() if v is not None}

    def model_kwargs(self, batch):
        """The same conditioning as keyword arguments of the model's log_prob, bits_per_dim and sample."""
        kwargs = {"condition": self.condition(batch)}
        if self.channels is not None:
            kwargs["features"] = self.features(batch)
        return kwargs

    def state_condition(self, batch):
        """The conditioning as ``model.initial_state`` takes it."""
        return model_condition(self.model, self.condition(batch), self.features(batch))

    def sample_length(self, length):
        """Samples an audio ``sample`` draws: ``length``, or all that the frames cover."""
        return FRAMES * self.model.hop if self.channels is not None else length

    def events(self, batch, length=AUDIO_LENGTHS[0], seed=0):
        shape = (batch, length) if self.audio else (batch, *self.model.event_shape)
        return np.random.default_rng(seed).integers(0, self.model.num_levels, shape).astype(np.int32)

    def position_values(self, batch, seed):
        shape = (batch, *self.model.position_shape)
        return np.random.default_rng(seed).integers(0, self.model.num_levels, shape).astype(np.int32)


@pytest.fixture(scope="module", params=CASES, ids=_case_id)
def exported(request, tmp_path_factory):
    name, conditional, overrides = request.param
    keras.utils.set_random_seed(0)
    config = dict(CONFIGS[name], num_classes=NUM_CLASSES if conditional else None, **overrides)
    model = _model_class(name)(**config)
    model.build()
    return Exported(model, conditional, str(tmp_path_factory.mktemp(_case_id(request.param))))


_ONNX_SESSIONS = {}


def _onnx_run(path, feeds):
    if path not in _ONNX_SESSIONS:
        _ONNX_SESSIONS[path] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    session = _ONNX_SESSIONS[path]
    outputs = session.run(None, {k: np.asarray(v) for k, v in feeds.items()})
    return dict(zip([o.name for o in session.get_outputs()], outputs))


def _step_count(exported):
    """Steps of the step tests: across two row starts of an image (where the cached steps
    update their row caches), four for audio."""
    if exported.audio:
        return 4
    _, width, channels = exported.model.event_shape
    per_row = width * channels // int(np.prod(exported.model.position_shape))
    assert exported.model.num_positions() >= 2 * per_row + 2, "the tiny image needs three rows"
    return 2 * per_row + 2


# ---------------------------------------------------------------- SavedModel
def test_saved_model_has_the_five_signatures(exported):
    assert set(exported.loaded.signatures) == {"serving_default", "log_prob", "sample", "initial_state", "step"}
    default = exported.loaded.signatures["serving_default"].structured_input_signature[1]
    assert set(default) == {"x"} | set(exported.cond_kwargs(1))


def test_saved_model_log_prob_matches_model(exported):
    model, fn = exported.model, exported.loaded.signatures["log_prob"]
    lengths = AUDIO_LENGTHS if exported.audio else (None,)
    for i, length in enumerate(lengths):
        x = exported.events(3, length=length, seed=i)
        out = fn(x=tf.constant(x), **exported.cond_kwargs(3))
        np.testing.assert_allclose(out["log_prob"], model.log_prob(x, **exported.model_kwargs(3)), atol=1e-4, rtol=0)
        np.testing.assert_allclose(out["bits_per_dim"], model.bits_per_dim(x, **exported.model_kwargs(3)), atol=1e-5,
                                   rtol=0)


def test_saved_model_sample_equals_model_sample(exported):
    model, fn = exported.model, exported.loaded.signatures["sample"]
    for seed, temperature in ((5, 1.0), (11, 0.7)):
        inputs = {k: tf.constant(v) for k, v in _sample_inputs(exported, 2, seed, temperature).items()}
        out = fn(**inputs)["samples"]
        expected = _expected_sample(exported, 2, seed, temperature)
        assert out.dtype == tf.int32
        np.testing.assert_array_equal(out, expected)


def test_saved_model_step_round_trips_state(exported):
    model, loaded = exported.model, exported.loaded
    state = model.initial_state(2, condition=exported.state_condition(2))
    flat = loaded.signatures["initial_state"](batch_size=tf.constant(2), **exported.cond_kwargs(2))
    expected = flatten_state(state)
    assert set(flat) == set(expected)
    for name in expected:
        np.testing.assert_allclose(flat[name], expected[name], atol=1e-5, rtol=0)  # float frames: rounding
    x = np.zeros([2, *model.position_shape], np.int32)
    for t in range(_step_count(exported)):
        out = loaded.signatures["step"](x_prev=tf.constant(x), **flat)
        params, state = model.step(tf.constant(x), state)
        np.testing.assert_allclose(out["params"], params, atol=1e-4, rtol=0, err_msg=f"step {t}")
        flat = {}
        for name, value in flatten_state(state).items():
            np.testing.assert_allclose(out["next_" + name], value, atol=1e-5, rtol=0, err_msg=f"step {t}: {name}")
            flat[name] = out["next_" + name]  # the exported state, carried to the next step
        x = exported.position_values(2, seed=t)


def test_saved_model_metadata_names_the_signatures(exported):
    with open(os.path.join(exported.sm_dir, "tfar_export.json")) as f:
        record = json.load(f)
    assert record["model"]["class"] == type(exported.model).__name__
    assert record["model"]["config"]["num_classes"] == exported.model.num_classes
    rebuilt = type(exported.model).from_config(record["model"]["config"])
    assert rebuilt.get_config() == exported.model.get_config()
    for name, fn in exported.loaded.signatures.items():
        assert set(record["signatures"][name]["inputs"]) == set(fn.structured_input_signature[1])
        assert set(record["signatures"][name]["outputs"]) == set(fn.structured_outputs)


# ------------------------------------- TF Serving's session-based loader (SavedModelBundle)
def _session_model(exported):
    if getattr(exported, "session_model", None) is None:
        exported.session_model = SessionModel(exported.sm_dir)
    return exported.session_model


def _sample_inputs(exported, num_samples, seed, temperature, length=10):
    inputs = {"num_samples": num_samples, "seed": seed, "temperature": temperature,
              **exported.cond_kwargs(num_samples, tensor=False)}
    if exported.audio and exported.channels is None:  # with frames, the length is what they cover
        inputs["length"] = length
    return inputs


def _expected_sample(exported, num_samples, seed, temperature, length=10):
    extra = {"length": exported.sample_length(length)} if exported.audio else {}
    return exported.model.sample(num_samples, seed=seed, temperature=temperature,
                                 **exported.model_kwargs(num_samples), **extra)


def test_session_loader_runs_every_signature_like_the_model(exported):
    """Every signature through the loader TF Serving uses equals the in-process model
    (before the exporter tracked the plain tf.Variables, each failed with "Could not find variable")."""
    model, served = exported.model, _session_model(exported)
    assert set(served.signatures) == {"serving_default", "log_prob", "sample", "initial_state", "step"}
    x = exported.events(3, seed=3)
    for signature in ("log_prob", "serving_default"):
        out = served.run(signature, x=x, **exported.cond_kwargs(3, tensor=False))
        np.testing.assert_allclose(out["log_prob"], model.log_prob(x, **exported.model_kwargs(3)),
                                   atol=1e-4, rtol=0)
    for seed, temperature in ((5, 1.0), (11, 0.7)):
        out = served.run("sample", **_sample_inputs(exported, 2, seed, temperature))
        np.testing.assert_array_equal(out["samples"], _expected_sample(exported, 2, seed, temperature))
    flat = served.run("initial_state", batch_size=2, **exported.cond_kwargs(2, tensor=False))
    state = model.initial_state(2, condition=exported.state_condition(2))
    x_prev = np.zeros([2, *model.position_shape], np.int32)
    for t in range(_step_count(exported)):  # known values fed back: the completion of a prefix
        out = served.run("step", x_prev=x_prev, **flat)
        params, state = model.step(tf.constant(x_prev), state)
        np.testing.assert_allclose(out["params"], params, atol=1e-4, rtol=0, err_msg=f"step {t}")
        flat = {"state" + name[len("next_state"):]: value for name, value in out.items() if name != "params"}
        x_prev = exported.position_values(2, seed=40 + t)


@pytest.fixture(scope="module")
def without_tfar(tmp_path_factory):
    """A Python process in which ``import tfar`` fails, running requests through the session loader.

    One process for the module (one TensorFlow import); each call sends it an export and
    an .npz of requests and waits for its answer line.
    """
    blocker = ("import runpy, sys; sys.modules['tfar'] = None; "  # `import tfar` raises ImportError
               "runpy.run_path(sys.argv[1], run_name='__main__')")
    process = subprocess.Popen(
        [sys.executable, "-c", blocker, SESSION_LOADER], cwd=tmp_path_factory.mktemp("no_tfar"), text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )

    def run(export_dir, requests_path, out_path):
        process.stdin.write(f"{export_dir}\t{requests_path}\t{out_path}\n")
        process.stdin.flush()
        return process.stdout.readline().strip() or f"the process ended (exit {process.wait(timeout=60)})"

    yield run
    process.stdin.close()
    process.wait(timeout=60)


def test_saved_model_runs_where_tfar_cannot_be_imported(exported, without_tfar, tmp_path):
    """The artifact alone (TensorFlow, no tfar) serves every signature with the model's answers."""
    model = exported.model
    x = exported.events(2, seed=7)
    requests = {"log_prob/x": x, "initial_state/batch_size": np.int32(2),
                **{f"sample/{k}": np.asarray(v) for k, v in _sample_inputs(exported, 2, 3, 1.0).items()}}
    for name, value in exported.cond_kwargs(2, tensor=False).items():
        requests[f"log_prob/{name}"] = requests[f"initial_state/{name}"] = value
    state = flatten_state(model.initial_state(2, condition=exported.state_condition(2)))
    requests["step/x_prev"] = exported.position_values(2, seed=8)
    requests.update({f"step/{name}": value.numpy() for name, value in state.items()})
    np.savez(tmp_path / "requests.npz", **requests)
    answer = without_tfar(exported.sm_dir, tmp_path / "requests.npz", tmp_path / "out.npz")
    assert answer == "ok tfar imported: False", answer
    out = dict(np.load(tmp_path / "out.npz"))
    np.testing.assert_allclose(out["log_prob/log_prob"], model.log_prob(x, **exported.model_kwargs(2)),
                               atol=1e-4, rtol=0)
    np.testing.assert_array_equal(out["sample/samples"], _expected_sample(exported, 2, 3, 1.0))
    for name, value in state.items():
        np.testing.assert_allclose(out[f"initial_state/{name}"], value, atol=1e-5, rtol=0)
    params, _ = model.step(tf.constant(requests["step/x_prev"]), model.initial_state(2, exported.state_condition(2)))
    np.testing.assert_allclose(out["step/params"], params, atol=1e-4, rtol=0)


def test_no_signature_needs_xla(exported):
    """TF Serving refuses functions marked _XlaMustCompile unless started with --xla_cpu_compilation_enabled."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(exported.sm_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph_def = proto.meta_graphs[0].graph_def
    assert graph_def.library.function, "the SavedModel holds no functions: nothing was scanned"
    marked = [fn.signature.name for fn in graph_def.library.function
              if fn.attr["_XlaMustCompile"].b or any(n.attr["_XlaMustCompile"].b for n in fn.node_def)]
    marked += [n.name for n in graph_def.node if n.attr["_XlaMustCompile"].b]
    assert marked == []


def test_warmup_requests_parse_and_replay_through_the_session_loader(exported):
    logs = read_warmup(os.path.join(exported.sm_dir, "assets.extra", "tf_serving_warmup_requests"))
    signatures = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert sorted(signatures) == sorted(_session_model(exported).signatures)
    record = json.loads(open(os.path.join(exported.sm_dir, "tfar_export.json")).read())
    assert record["warmup"]["signatures"] == signatures
    for log in logs:
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        specs = record["signatures"][request.model_spec.signature_name]["inputs"]
        for name, value in inputs.items():  # small: one example, one sample, a few audio samples
            if name in ("num_samples", "batch_size"):
                assert value == 1, name
            elif name == "length":
                assert 1 <= value <= 16
            elif specs[name]["shape"] and specs[name]["shape"][0] is None:
                assert value.shape[0] == 1, name
        out = _session_model(exported).run(request.model_spec.signature_name, **inputs)
        assert all(np.all(np.isfinite(v)) for v in out.values() if v.dtype.kind == "f")


# ---------------------------------------------------------------------- ONNX
def test_onnx_log_prob_matches_model(exported):
    model = exported.model
    lengths = AUDIO_LENGTHS if exported.audio else (None,)
    for i, length in enumerate(lengths):
        x = exported.events(3, length=length, seed=10 + i)
        out = _onnx_run(exported.onnx_paths["log_prob"], {"x": x, **exported.cond_kwargs(3, tensor=False)})
        np.testing.assert_allclose(out["log_prob"], model.log_prob(x, **exported.model_kwargs(3)), atol=1e-4, rtol=0)
        np.testing.assert_allclose(out["bits_per_dim"], model.bits_per_dim(x, **exported.model_kwargs(3)), atol=1e-5,
                                   rtol=0)


def test_onnx_step_carries_state_like_model_step(exported):
    model = exported.model
    state = model.initial_state(2, condition=exported.state_condition(2))
    flat = _onnx_run(os.path.join(exported.onnx_dir, "initial_state.onnx"),
                     {"batch_size": np.int32(2), **exported.cond_kwargs(2, tensor=False)})
    expected = flatten_state(state)
    assert set(flat) == set(expected)
    for name in expected:
        np.testing.assert_allclose(flat[name], expected[name], atol=1e-5, rtol=0)  # float frames: rounding
    x = np.zeros([2, *model.position_shape], np.int32)
    for t in range(_step_count(exported)):
        out = _onnx_run(exported.onnx_paths["step"], {"x_prev": x, **flat})
        params, state = model.step(tf.constant(x), state)
        np.testing.assert_allclose(out["params"], params, atol=1e-4, rtol=0, err_msg=f"step {t}")
        flat = {}
        for name, value in flatten_state(state).items():
            np.testing.assert_allclose(out["next_" + name], value, atol=1e-5, rtol=0, err_msg=f"step {t}: {name}")
            flat[name] = out["next_" + name]
        x = exported.position_values(2, seed=20 + t)


def test_onnx_graphs_hold_no_random_or_assign_ops(exported):
    import onnx as onnx_lib

    for name in ("log_prob", "step", "initial_state"):
        graph = onnx_lib.load(os.path.join(exported.onnx_dir, f"{name}.onnx")).graph
        ops = {node.op_type for node in graph.node}
        assert not ops & {"RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike", "Multinomial"}
    with open(os.path.join(exported.onnx_dir, "tfar_export.json")) as f:
        record = json.load(f)
    assert set(record["graphs"]["step"]["outputs"]) == {"params"} | {
        "next_" + n for n in flatten_state(exported.model.initial_state(1, exported.state_condition(1)))
    }


# ------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def tiny_pixelcnn():
    keras.utils.set_random_seed(0)
    model = PixelCNN(**CONFIGS["PixelCNN"])
    model.build()
    return model


@pytest.mark.parametrize("exporter", [saved_model, onnx], ids=["saved_model", "onnx"])
def test_exporters_reject_non_tfar_models(exporter, tmp_path):
    with pytest.raises(ValueError, match="expected a tfar model"):
        exporter(keras.Sequential([keras.layers.Dense(2)]), str(tmp_path / "out"))
    with pytest.raises(ValueError, match="expected a tfar model"):
        exporter("pixelcnn", str(tmp_path / "out"))


@pytest.mark.parametrize("exporter", [saved_model, onnx], ids=["saved_model", "onnx"])
def test_exporters_refuse_non_empty_directory_or_file(exporter, tiny_pixelcnn, tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(ValueError, match="not empty"):
        exporter(tiny_pixelcnn, str(tmp_path))
    with pytest.raises(ValueError, match="is a file"):
        exporter(tiny_pixelcnn, str(tmp_path / "keep.txt"))
    assert os.listdir(tmp_path) == ["keep.txt"]


class CountingPixelCNN(PixelCNN):
    """Counts steps in a variable: a hidden mutation that serving must not accept."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.steps_taken = keras.Variable(0, dtype="int32", trainable=False, name="steps_taken")

    def step(self, x_prev, state):
        self.steps_taken.assign_add(1)
        return super().step(x_prev, state)


def test_saved_model_refuses_a_step_that_mutates_variables(tmp_path):
    model = CountingPixelCNN(**CONFIGS["PixelCNN"])
    with pytest.raises(ValueError, match=r"signature .(step|sample). mutates state \(ops \[.Assign"):
        saved_model(model, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_saved_model_signatures_reject_bad_values(tiny_pixelcnn, tmp_path):
    loaded = tf.saved_model.load(saved_model(tiny_pixelcnn, str(tmp_path / "sm")))
    x = np.full([1, 5, 5, 1], tiny_pixelcnn.num_levels, np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="x has a value >= num_levels=4"):
        loaded.signatures["log_prob"](x=tf.constant(x))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be >= 1"):
        loaded.signatures["sample"](num_samples=tf.constant(0), seed=tf.constant(1), temperature=tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be > 0"):
        loaded.signatures["sample"](num_samples=tf.constant(1), seed=tf.constant(1), temperature=tf.constant(0.0))


# ------------------------------------------------------------------ CLI
def test_export_main_writes_a_tf_serving_layout_from_a_zoo_entry(tmp_path, capsys):
    out = tmp_path / "models" / "pixelcnn"
    overrides = ["image_shape=[5,5,1]", "num_levels=4", "filters=4", "num_residual_blocks=1", "output_filters=8",
                 "kernel_size=3"]
    status = export_main(["pixelcnn", "--out", str(out), "--format", "both", "--untrained", "--set", *overrides])
    assert status == 0
    assert (out / "1" / "saved_model.pb").is_file()
    assert sorted(p.name for p in (out / "onnx").iterdir()) == [
        "initial_state.onnx", "log_prob.onnx", "step.onnx", "tfar_export.json"]
    record = json.loads((out / "1" / "tfar_export.json").read_text())
    assert record["source"]["zoo_name"] == "pixelcnn"
    assert record["model"]["config"]["image_shape"] == [5, 5, 1]
    assert "SavedModel" in capsys.readouterr().out


def test_export_main_exports_a_run_folder_with_its_trained_weights(tiny_pixelcnn, tmp_path):
    from tfar.training import run as run_lib

    run_dir = tmp_path / "run"
    run_lib.write_run_info(str(run_dir), {"model": "pixelcnn",
                                          "model_config": run_lib.model_config("pixelcnn", tiny_pixelcnn)})
    os.makedirs(os.path.dirname(run_lib.weights_path(str(run_dir))))
    tiny_pixelcnn.save_weights(run_lib.weights_path(str(run_dir)))
    out = tmp_path / "served"
    assert export_main([str(run_dir), "--out", str(out), "--format", "saved_model", "--version", "3"]) == 0
    loaded = tf.saved_model.load(str(out / "3"))
    x = np.random.default_rng(1).integers(0, 4, (2, 5, 5, 1)).astype(np.int32)
    np.testing.assert_allclose(loaded.signatures["log_prob"](x=tf.constant(x))["log_prob"],
                               tiny_pixelcnn.log_prob(x), atol=1e-4, rtol=0)
    record = json.loads((out / "3" / "tfar_export.json").read_text())
    assert record["source"] == {"run": str(run_dir), "weights": "best", "zoo_name": "pixelcnn"}


def test_export_main_rejects_unknown_sources(tmp_path):
    with pytest.raises(ValueError, match="neither a run folder nor a zoo entry.*pixelcnn"):
        export_main(["no_such_model", "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="not a run folder"):
        export_main([str(tmp_path), "--out", str(tmp_path / "o")])

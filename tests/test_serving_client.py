"""export/client.py end to end through tests/serving_stand_in.py, a STAND-IN for TF Serving.

The stand-in (not TF Serving: its binary cannot be installed here) serves the real exported
SavedModels through the session-based loader, behind TF Serving's REST JSON (row and
columnar) and the gRPC PredictionService of tensorflow-serving-api. The client, over each
of REST columnar, REST row and gRPC, must: sample what ``model.sample`` draws for the same
seed, score what ``model.log_prob`` scores, carry the state between ``step`` requests so
that stepping position by position with the sampler's noise redraws ``sample``, pick
versions and signatures, and report a refused request as a ServingError that names the
signature and quotes the server.
"""

import importlib.util
import json
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import tfar
from serving_stand_in import StandInServer  # tests/ is on sys.path
from tfar.sampling.loop import position_seed

CLIENT_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "export", "client.py")
APIS = ["rest-columnar", "rest-row", "grpc"]
AUDIO_LENGTH = 24


def load_client_module():
    spec = importlib.util.spec_from_file_location("tfar_serving_client", CLIENT_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two exported models behind one stand-in: pixelcnn (versions 1 and 2) and wavenet (version 1)."""
    root = tmp_path_factory.mktemp("serving")
    pixelcnn = tfar.models.PixelCNN(image_shape=(4, 4, 1), filters=8, num_residual_blocks=1, output_filters=8,
                                    num_classes=3)
    wavenet = tfar.models.WaveNet(num_stacks=1, layers_per_stack=3, residual_channels=8, dilation_channels=8,
                                  skip_channels=8, num_levels=16)
    # no warmup records: the stand-in does not replay them (tests/test_export.py reads them back)
    tfar.export.saved_model(pixelcnn, str(root / "pixelcnn" / "1"), warmup=False)
    shutil.copytree(root / "pixelcnn" / "1", root / "pixelcnn" / "2")  # the same model as a newer version
    tfar.export.saved_model(wavenet, str(root / "wavenet" / "1"), warmup=False)
    with StandInServer({"pixelcnn": str(root / "pixelcnn"), "wavenet": str(root / "wavenet")}) as server:
        yield {"server": server, "module": load_client_module(), "pixelcnn": pixelcnn, "wavenet": wavenet,
               "root": root, "clients": []}


def make_client(served, api, model="pixelcnn", **kwargs):
    module, server = served["module"], served["server"]
    if api == "grpc":
        client = module.TfarClient(server.grpc_target, model, api="grpc", timeout=30, **kwargs)
    else:
        client = module.TfarClient(server.rest_url, model, format=api.split("-")[1], timeout=30, **kwargs)
    return client


@pytest.fixture(scope="module", params=APIS)
def client(request, served):
    with make_client(served, request.param) as c:
        yield c


def last_request(served):
    return served["server"].log[-1]


def reference_sample(model, num_samples, **kwargs):
    """``model.sample`` by its naive method: the same draws as the default fast one (tests/sampling), without
    the XLA compilation per batch size that the fast sampler of this model pays (seconds on a busy machine)."""
    return model.sample(num_samples, method="naive", **kwargs).numpy()


def heads_draw(model, seed, temperature):
    """``draw(params, t)`` with the model's own head and the sampler's noise for position t."""
    stateless = tf.constant([seed, 0], tf.int32)
    return lambda params, t: model.head.sample(tf.constant(params), position_seed(stateless, t), temperature).numpy()


# ------------------------------------------------------------------ sample, log_prob, step
def test_sample_equals_model_sample(served, client):
    model = served["pixelcnn"]
    condition = np.array([0, 1, 2], np.int32)
    samples = client.sample(3, seed=7, temperature=0.9, condition=condition)
    assert samples.dtype == np.int32 and samples.shape == (3, 4, 4, 1)
    np.testing.assert_array_equal(samples, reference_sample(model, 3, seed=7, temperature=0.9, condition=condition))
    # sample's inputs are scalars: TF Serving's row format cannot carry them, so it goes columnar
    expected = "grpc" if client.api == "grpc" else "columnar"
    assert client.last_format == expected
    assert last_request(served)["format"] == expected and last_request(served)["signature"] == "sample"


def test_log_prob_equals_model_log_prob(served, client):
    model = served["pixelcnn"]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=[6, 4, 4, 1]).astype(np.int32)
    condition = rng.integers(0, 3, size=[6]).astype(np.int32)
    out = client.log_prob(x, condition)
    expected = model.log_prob(x, condition=condition).numpy()
    assert out["log_prob"].dtype == np.float32 and out["log_prob"].shape == (6,)
    np.testing.assert_allclose(out["log_prob"], expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["bits_per_dim"], -expected / (16 * np.log(2)), rtol=1e-5, atol=1e-4)
    wire = "grpc" if client.api == "grpc" else client.format  # log_prob's inputs all share dimension 0
    assert client.last_format == wire and last_request(served)["format"] == wire
    default = client.log_prob(x, condition, signature="serving_default")  # the default signature is log_prob
    assert last_request(served)["signature"] == "serving_default"
    np.testing.assert_allclose(default["log_prob"], out["log_prob"], rtol=1e-6)


def test_stepping_through_the_client_redraws_sample(served, client):
    model, seed, temperature = served["pixelcnn"], 11, 0.8
    condition = np.array([2, 0, 1], np.int32)
    flat = client.sample_with_steps(3, None, seed, temperature, condition,  # positions from the server's metadata
                                    draw=heads_draw(model, seed, temperature))
    assert flat.shape == (3, 16)
    np.testing.assert_array_equal(model.unflatten(tf.constant(flat)).numpy(),
                                  reference_sample(model, 3, seed=seed, temperature=temperature,
                                                   condition=condition))


def test_stepper_carries_the_state_named_in_tfar_export_json(served, client):
    model = served["pixelcnn"]
    with open(served["root"] / "pixelcnn" / "1" / "tfar_export.json") as f:
        step_inputs = json.load(f)["signatures"]["step"]["inputs"]
    condition = np.array([1, 2], np.int32)
    stepper = client.stepper(2, condition)
    assert sorted(stepper.state) == sorted(k for k in step_inputs if k != "x_prev")
    state = model.initial_state(2, condition=tf.constant(condition))
    x = np.zeros([2], np.int32)
    for t in range(3):
        params = stepper.step(x)
        expected, state = model.step(tf.constant(x), state)
        np.testing.assert_allclose(params, expected.numpy(), rtol=1e-5, atol=1e-4)
        x = np.argmax(params, axis=-1).astype(np.int32)
    assert stepper.position == 3 and int(stepper.state["state__position"]) == 3


@pytest.mark.parametrize("api", ["grpc"])  # one API: the audio signatures cost seconds per first call
def test_wavenet_steps_redraw_the_served_sample_and_scores_match(served, api):
    model, seed = served["wavenet"], 5
    with make_client(served, api, "wavenet") as client:
        served_samples = client.sample(2, seed=seed, temperature=1.0, length=AUDIO_LENGTH)
        assert served_samples.shape == (2, AUDIO_LENGTH)
        with pytest.raises(ValueError, match="pass num_positions"):  # audio: no fixed length
            client.num_positions()
        flat = client.sample_with_steps(2, AUDIO_LENGTH, seed, 1.0, draw=heads_draw(model, seed, 1.0))
        np.testing.assert_array_equal(flat, served_samples)
        out = client.log_prob(served_samples)
        np.testing.assert_allclose(out["log_prob"], model.log_prob(served_samples).numpy(), rtol=1e-5, atol=1e-3)


# ------------------------------------------------------------------ errors, versions, signatures
def test_bad_requests_raise_serving_error_with_the_servers_message(served, client):
    module = served["module"]
    rest = client.api == "rest"
    with pytest.raises(module.ServingError) as caught:
        client.log_prob(np.full([1, 4, 4, 1], 300, np.int32), np.zeros([1], np.int32))
    error = caught.value
    assert error.signature == "log_prob" and "num_levels" in error.message
    assert (error.http_status == 400) if rest else (error.code == "INVALID_ARGUMENT")
    assert str(error).startswith("log_prob: ") and "num_levels" in str(error)

    with pytest.raises(module.ServingError, match="num_samples") as caught:
        client.sample(0, seed=1, condition=np.zeros([0], np.int32))
    assert caught.value.signature == "sample"
    assert (caught.value.http_status == 400) if rest else (caught.value.code == "INVALID_ARGUMENT")

    with pytest.raises(module.ServingError, match="no_such_signature") as caught:
        client.predict("no_such_signature", {"x": np.zeros([1, 4, 4, 1], np.int32)})
    assert (caught.value.http_status == 400) if rest else (caught.value.code == "FAILED_PRECONDITION")

    with pytest.raises(module.ServingError, match="Missing but required: \\['condition'\\]"):
        client.log_prob(np.zeros([1, 4, 4, 1], np.int32))
    with pytest.raises(ValueError, match="row format needs every input to share dimension 0"):
        client.predict("sample", {"num_samples": 1, "seed": 0, "temperature": 1.0}, format="row")


@pytest.mark.parametrize("api", ["rest-columnar", "grpc"])
def test_version_selection(served, api):
    module = served["module"]
    x, condition = np.zeros([1, 4, 4, 1], np.int32), np.zeros([1], np.int32)
    for version, expected in [(None, 2), (1, 1), (2, 2)]:
        with make_client(served, api, version=version) as client:
            client.log_prob(x, condition)
            assert last_request(served)["version"] == expected
            if api == "grpc":
                assert client._transport.last_model_spec.version.value == expected
    with make_client(served, api, version=9) as client:
        with pytest.raises(module.ServingError, match=r"Specific\(pixelcnn, 9\)") as caught:
            client.log_prob(x, condition)
        assert (caught.value.code == "NOT_FOUND") if api == "grpc" else (caught.value.http_status == 404)
    with make_client(served, api, model="no_such_model") as client, pytest.raises(module.ServingError,
                                                                                  match="no_such_model"):
        client.sample(1)
    if api != "grpc":
        with make_client(served, api) as client:
            versions = client.status()["model_version_status"]
        assert [(v["version"], v["state"]) for v in versions] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]


def test_an_unreachable_server_is_a_serving_error(served):
    module = served["module"]
    with module.TfarClient("http://127.0.0.1:9", "pixelcnn", timeout=5) as client:  # port 9: discard, closed
        with pytest.raises(module.ServingError, match="UNAVAILABLE"):
            client.sample(1)
    with module.TfarClient("127.0.0.1:9", "pixelcnn", timeout=5, api="grpc") as client:
        with pytest.raises(module.ServingError, match="sample: (UNAVAILABLE|DEADLINE_EXCEEDED)"):
            client.sample(1)


# ------------------------------------------------------------------ the stand-in's JSON is TF Serving's
def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_stand_in_answers_in_tf_servings_json_shapes(served):
    url = served["server"].rest_url + "/v1/models/pixelcnn:predict"
    x = np.zeros([2, 4, 4, 1], np.int32).tolist()
    # columnar, a single output: the value itself, without its name
    code, answer = _post(url, {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 0, "temperature": 1.0,
                                                                      "condition": [0, 1]}})
    assert code == 200 and list(answer) == ["outputs"] and np.shape(answer["outputs"]) == (2, 4, 4, 1)
    # columnar, several outputs: an object
    code, answer = _post(url, {"signature_name": "log_prob", "inputs": {"x": x, "condition": [0, 1]}})
    assert code == 200 and sorted(answer["outputs"]) == ["bits_per_dim", "log_prob"]
    # row: "predictions", one object per example
    code, answer = _post(url, {"signature_name": "log_prob", "instances": [{"x": x[0], "condition": 0},
                                                                          {"x": x[1], "condition": 1}]})
    assert code == 200 and len(answer["predictions"]) == 2 and sorted(answer["predictions"][0]) == [
        "bits_per_dim", "log_prob"]
    # errors: TF Serving's {"error": message} with a 4xx status
    code, answer = _post(url, {"signature_name": "log_prob", "inputs": {"x": x, "condition": [0, 7]}})
    assert code == 400 and "num_classes" in answer["error"]
    code, answer = _post(url, {"signature_name": "log_prob"})
    assert code == 400 and "Missing 'inputs' or 'instances'" in answer["error"]
    code, answer = _post(url, {"signature_name": "log_prob", "inputs": {"x": [[0.5]], "condition": [0]}})
    assert code == 400 and "expects int32" in answer["error"]
    code, answer = _post(served["server"].rest_url + "/v1/models/pixelcnn/versions/7:predict",
                         {"inputs": {"x": x, "condition": [0, 1]}})
    assert code == 404 and "Specific(pixelcnn, 7)" in answer["error"]
    with urllib.request.urlopen(served["server"].rest_url + "/v1/models/pixelcnn/metadata", timeout=30) as r:
        metadata = json.loads(r.read())
    step = metadata["metadata"]["signature_def"]["signature_def"]["step"]
    assert step["inputs"]["state__position"]["dtype"] == "DT_INT32" and "params" in step["outputs"]


def test_tensor_protos_built_with_numpy_read_back_with_tensorflow(served):
    module = served["module"]
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    for value in [np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(0.25), np.zeros([0, 4], np.float32),
                  np.array([True, False])]:
        proto = module.to_tensor_proto(value, tensor_pb2, tensor_shape_pb2)
        np.testing.assert_array_equal(tf.make_ndarray(proto), value)
        np.testing.assert_array_equal(module.from_tensor_proto(proto), value)
    # TF Serving may answer with the typed *_val fields instead of tensor_content
    for value in [np.array([[1, -2, 3]], np.int32), np.array([1.5, 2.5], np.float32), np.full([2, 2], 7, np.int32)]:
        proto = tf.make_tensor_proto(value)
        proto.ClearField("tensor_content")
        getattr(proto, "int_val" if value.dtype == np.int32 else "float_val").extend(
            [value.flat[0]] if (value == value.flat[0]).all() else value.ravel().tolist())
        np.testing.assert_array_equal(module.from_tensor_proto(proto), value)


# ------------------------------------------------------------------ the command line
def test_cli_samples_scores_and_lists_signatures(served, tmp_path, capsys):
    module, server, model = served["module"], served["server"], served["pixelcnn"]
    path = str(tmp_path / "samples.npy")
    assert module.main(["--url", server.rest_url, "--model", "pixelcnn", "sample", "--num", "3", "--seed", "3",
                        "--label", "1", "--out", path]) == 0
    np.testing.assert_array_equal(np.load(path), reference_sample(model, 3, seed=3, condition=[1, 1, 1]))
    expected = model.log_prob(np.load(path), condition=[1, 1, 1]).numpy()
    for flags in (["--format", "row"], ["--grpc", "--url", server.grpc_target]):
        capsys.readouterr()
        assert module.main(["--url", server.rest_url, *flags, "--model", "pixelcnn", "log-prob", path,
                            "--label", "1"]) == 0
        printed = [float(line.split()[1]) for line in capsys.readouterr().out.splitlines()]
        np.testing.assert_allclose(printed, expected, atol=2e-3)
        assert last_request(served)["format"] == ("grpc" if "--grpc" in flags else "row")
    assert module.main(["--url", server.grpc_target, "--grpc", "--model", "pixelcnn", "signatures"]) == 0
    assert "state__position" in capsys.readouterr().out
    assert module.main(["--url", server.rest_url, "--model", "pixelcnn", "sample", "--num", "1",
                        "--label", "5"]) == 1
    assert "sample: HTTP 400" in capsys.readouterr().err

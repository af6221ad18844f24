"""export/ stays true: the README's signature table, its REST bodies, client.py and the pinned server image.

Tiny models are exported and read back with ``tf.saved_model.load``; every tensor the
README's table lists must be there with its dtype and shape, and every tensor there must
be listed.
"""

import importlib.util
import io
import json
import pathlib
import re
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import tfar
from tfar.export.saved_model_signatures import feature_channels
from tfar.models import GatedPixelCNN, WaveNet, WaveNetVocoder

EXPORT = pathlib.Path(__file__).resolve().parent.parent / "export"
README = (EXPORT / "README.md").read_text()
NUM_CLASSES = 3
SIGNATURES = {"serving_default", "log_prob", "sample", "initial_state", "step"}


def tiny_image_model():
    return GatedPixelCNN(image_shape=(5, 5, 1), num_levels=4, num_layers=2, filters=4, kernel_size=3,
                         input_kernel_size=3, output_filters=8)


def tiny_audio_model():
    return WaveNet(num_stacks=1, layers_per_stack=2, residual_channels=4, dilation_channels=4, skip_channels=8,
                   kernel_size=2, num_levels=8, num_classes=NUM_CLASSES)


def tiny_vocoder():
    return WaveNetVocoder(features=dict(sample_rate=8000, frame_length=16, hop_length=4, num_mels=5, fmin=0.0,
                                        fmax=4000.0),
                          local_condition_channels=3, upsample_factors=[2, 2], num_stacks=1, layers_per_stack=2,
                          residual_channels=4, dilation_channels=4, skip_channels=8, kernel_size=2, num_levels=8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{kind: (model, loaded SavedModel)} for an unconditional image model, a class-conditional audio model
    and a vocoder (conditioned on mel frames)."""
    out = {}
    for kind, model in (("image", tiny_image_model()), ("audio", tiny_audio_model()), ("vocoder", tiny_vocoder())):
        path = tmp_path_factory.mktemp(kind) / "1"
        tfar.export.saved_model(model, path)
        out[kind] = (model, tf.saved_model.load(str(path)))
    return out


# ----------------------------------------------------------------- the README's table
def documented_rows():
    """[(signatures, direction, tensor, dtype, shape, present)] of the README's signature table."""
    section = README[README.index("## 2. Signatures"):README.index("## 3.")]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[1] not in ("in", "out"):
            continue
        signatures = re.findall(r"`(\w+)`", cells[0])
        tensor = cells[2].strip("`")
        rows.append((signatures, cells[1], tensor, cells[3], cells[4].strip("`"), cells[5]))
    return rows


def applies(present, model):
    if present.startswith("always"):
        return True
    if present == "class-conditional models":
        return model.num_classes is not None
    if present == "audio models":
        return model.event_shape == (None,)
    if present == "audio models without feature frames":
        return model.event_shape == (None,) and feature_channels(model) is None
    if present == "models conditioned on feature frames (vocoders)":
        return feature_channels(model) is not None
    raise AssertionError(f"the README's table has an unknown 'present' value {present!r}")


def expected_shape(text, model):
    """A documented shape such as "[B, *event_shape]" for ``model``, None for unknown dimensions."""
    named = {"event_shape": list(model.event_shape), "position_shape": list(model.position_shape),
             "param_shape": list(model.head.param_suffix)}
    shape = []
    for part in filter(None, (p.strip() for p in text.strip("[]").split(","))):
        if part in ("B", "num_samples", "batch_size", "F"):
            shape.append(None)
        elif part == "num_mels":
            shape.append(feature_channels(model))
        elif part.startswith("*"):
            shape.extend(named[part[1:]])
        else:
            raise AssertionError(f"the README's table has an unknown dimension {part!r} in {text!r}")
    return shape


def actual_tensors(loaded, signature):
    function = loaded.signatures[signature]
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    describe = lambda t: (t.dtype.name, t.shape.as_list())  # noqa: E731
    return ({name: describe(t) for name, t in inputs.items()}, {name: describe(t) for name, t in outputs.items()})


def test_the_readme_table_lists_every_signature_and_tensor_family():
    rows = documented_rows()
    assert {s for row in rows for s in row[0]} == SIGNATURES
    assert len(rows) >= 17


@pytest.mark.parametrize("kind", ["image", "audio", "vocoder"])
def test_exported_signatures_match_the_readme_table(exported, kind):
    model, loaded = exported[kind]
    assert set(loaded.signatures) == SIGNATURES
    rows = documented_rows()
    for signature in SIGNATURES:
        inputs, outputs = actual_tensors(loaded, signature)
        actual = {"in": inputs, "out": outputs}
        for direction in ("in", "out"):
            documented = [r for r in rows if signature in r[0] and r[1] == direction and applies(r[5], model)]
            fixed = {r[2]: r for r in documented if "<key>" not in r[2]}
            assert set(fixed) == {n for n in actual[direction] if "__" not in n}, (signature, direction)
            for name, (_, _, _, dtype, shape, _) in fixed.items():
                assert actual[direction][name] == (dtype, expected_shape(shape, model)), (signature, name)
            families = [r[2].split("<key>")[0] for r in documented if "<key>" in r[2]]
            stateful = {n for n in actual[direction] if "__" in n}
            assert all(any(n.startswith(f) for f in families) for n in stateful), (signature, direction, stateful)


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_state_round_trips_between_initial_state_and_step_as_documented(exported, kind):
    _, loaded = exported[kind]
    _, state = actual_tensors(loaded, "initial_state")
    step_in, step_out = actual_tensors(loaded, "step")
    assert state and all(name.startswith("state__") for name in state)
    assert {n: v for n, v in step_in.items() if n != "x_prev"} == state  # initial_state returns what step takes
    assert {n: v for n, v in step_out.items() if n != "params"} == {"next_" + n: v for n, v in state.items()}
    assert state["state__position"] == ("int32", [])


# ----------------------------------------------------------------- REST bodies and client.py
def answer(loaded, body):
    """What TF Serving's REST :predict does with a columnar request body: {"outputs": ...}."""
    request = json.loads(body)
    signature = loaded.signatures[request.get("signature_name", "serving_default")]
    specs = signature.structured_input_signature[1]
    outputs = signature(**{k: tf.constant(v, specs[k].dtype) for k, v in request["inputs"].items()})
    outputs = {name: value.numpy().tolist() for name, value in outputs.items()}
    return json.dumps({"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))})


def test_the_readme_request_bodies_are_answered(exported):
    model, loaded = exported["image"]
    bodies = [b for b in re.findall(r"-d '(\{.*?\})'", README, re.S)]
    runnable = []
    for body in bodies:
        try:
            runnable.append(json.loads(body))
        except json.JSONDecodeError:
            assert "..." in body, body  # an elided example
    assert runnable, "the README shows no complete request body"
    for request in runnable:
        reply = json.loads(answer(loaded, json.dumps(request)))
        if request["signature_name"] == "sample":
            inputs = request["inputs"]
            expected = model.sample(inputs["num_samples"], seed=inputs["seed"], temperature=inputs["temperature"])
            np.testing.assert_array_equal(reply["outputs"], expected.numpy())  # one output: its name is dropped


@pytest.fixture()
def client_module():
    spec = importlib.util.spec_from_file_location("tfar_export_client", EXPORT / "client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeServer:
    """Stands in for urllib.request.urlopen: answers :predict POSTs with the SavedModel's signatures."""

    def __init__(self, loaded):
        self.loaded = loaded
        self.urls = []

    def __call__(self, request, timeout=None):
        self.urls.append(request.full_url)
        if request.data is None:  # a GET (model metadata): this fake answers :predict only
            raise urllib.error.HTTPError(request.full_url, 404, "not found", {},
                                         io.BytesIO(b'{"error": "the fake serves :predict only"}'))
        return io.BytesIO(answer(self.loaded, request.data.decode()).encode())


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_client_py_speaks_the_documented_signatures(exported, kind, client_module, monkeypatch):
    model, loaded = exported[kind]
    server = FakeServer(loaded)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    client = client_module.TfarClient("http://localhost:8501", model="tiny")
    condition = None if model.num_classes is None else np.array([2, 0], np.int32)
    length = 6 if kind == "audio" else None
    samples = client.sample(2, seed=3, condition=condition, length=length)
    expected = model.sample(2, seed=3, condition=condition, length=length)
    np.testing.assert_array_equal(samples, expected.numpy())
    scores = client.log_prob(samples, condition)
    np.testing.assert_allclose(scores["log_prob"], model.log_prob(samples, condition).numpy(), rtol=1e-5)
    drawn = client.sample_with_steps(2, num_positions=4, seed=0, condition=condition)
    assert drawn.shape == (2, 4) and drawn.min() >= 0 and drawn.max() < model.num_levels
    assert server.urls[0] == "http://localhost:8501/v1/models/tiny:predict"


# ----------------------------------------------------------------- the pinned server image
def test_docker_compose_pins_one_tf_serving_release_that_the_readme_names():
    compose = (EXPORT / "docker-compose.yml").read_text()
    images = re.findall(r"^\s*image:\s*(\S+)", compose, re.M)
    assert images, "docker-compose.yml names no image"
    versions = set()
    for image in images:
        match = re.fullmatch(r"tensorflow/serving:(?:\$\{TF_SERVING_VERSION:-(\d+\.\d+\.\d+)\}|(\d+\.\d+\.\d+))", image)
        assert match, f"{image!r} is not a pinned tensorflow/serving release"
        versions.add(match.group(1) or match.group(2))
    assert len(versions) == 1 and "latest" not in compose
    assert f"tensorflow/serving:{versions.pop()}" in README

"""Served requests are bounded: hostile requests get InvalidArgument at once, naming the limit.

Two tiny models are exported (an image model with the default limits, an audio model
with limits given to the exporter) and hit, through TF Serving's session loader, in a
subprocess capped at 12 GB of address space, with requests that before the limits were
accepted and ran for minutes (``num_samples=3,000,000``), aborted the process
(``length=2,000,000,000``) or exhausted its memory (100,000 x 1,000,000).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfar.cli.export import HELP_DEFAULTS
from tfar.cli.export import run as export_main
from tfar.export.request_checks import DEFAULT_LIMITS
from tfar.export.saved_model_signatures import flatten_state, saved_model
from tfar.models import PixelCNN, WaveNet

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIO_LIMITS = {"max_num_samples": 4, "max_length": 64, "max_batch_size": 3}
MEMORY_CAP = 12 * 2**30

# (name, model, signature, inputs, expected message fragment); "state" inputs are filled in below
HOSTILE = [
    ("3 million images", "image", "sample", dict(num_samples=3_000_000, seed=0, temperature=1.0, condition=[0]),
     "num_samples must be <= max_num_samples=64"),
    ("no images", "image", "sample", dict(num_samples=0, seed=0, temperature=1.0, condition=np.zeros([0])),
     "num_samples must be >= 1"),
    ("negative count", "image", "sample", dict(num_samples=-5, seed=0, temperature=1.0, condition=[0]),
     "num_samples must be >= 1"),
    ("NaN temperature", "image", "sample", dict(num_samples=1, seed=0, temperature=float("nan"), condition=[0]),
     "temperature must be finite"),
    ("infinite temperature", "image", "sample", dict(num_samples=1, seed=0, temperature=float("inf"), condition=[0]),
     "temperature must be finite"),
    ("zero temperature", "image", "sample", dict(num_samples=1, seed=0, temperature=0.0, condition=[0]),
     "temperature must be > 0"),
    ("vector count", "image", "sample", dict(num_samples=[2, 3], seed=0, temperature=1.0, condition=[0, 1]),
     "num_samples_must_be_a_scalar"),
    ("labels for another count", "image", "sample", dict(num_samples=2, seed=0, temperature=1.0, condition=[0]),
     "condition must have as many examples as num_samples"),
    ("label out of range", "image", "sample", dict(num_samples=1, seed=0, temperature=1.0, condition=[7]),
     "condition has a label >= num_classes=3"),
    ("wrong image size", "image", "log_prob", dict(x=np.zeros([1, 5, 4, 1]), condition=[0]),
     "x_must_have_shape_B_5_5_1"),
    ("image without its channel axis", "image", "log_prob", dict(x=np.zeros([1, 5, 5]), condition=[0]),
     "x_must_have_shape_B_5_5_1"),
    ("level out of range", "image", "log_prob", dict(x=np.full([1, 5, 5, 1], 4), condition=[0]),
     "x has a value >= num_levels=4"),
    ("batch over the limit", "image", "log_prob", dict(x=np.zeros([257, 5, 5, 1]), condition=np.zeros([257])),
     "x has a batch over max_batch_size=256"),
    ("a billion states", "image", "initial_state", dict(batch_size=10**9, condition=[0]),
     "batch_size must be <= max_batch_size=256"),
    ("2 billion audio samples", "audio", "sample", dict(num_samples=1, seed=0, temperature=1.0, length=2_000_000_000),
     "length must be <= max_length=64"),
    ("100,000 x 1,000,000", "audio", "sample", dict(num_samples=100_000, seed=0, temperature=1.0, length=1_000_000),
     "num_samples must be <= max_num_samples=4"),
    ("negative length", "audio", "sample", dict(num_samples=1, seed=0, temperature=1.0, length=-1),
     "length must be >= 1"),
    ("audio longer than the limit", "audio", "log_prob", dict(x=np.zeros([1, 65])),
     "x is longer than max_length=64"),
    ("step batch over the limit", "audio", "step", dict(x_prev=np.zeros([4]), state=4),
     "x_prev has a batch over max_batch_size=3"),
    ("state of another batch", "audio", "step", dict(x_prev=np.zeros([1]), state=2),
     "must have as many examples as x_prev"),
]

SCRIPT = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
import numpy as np
import tensorflow as tf
sys.path.insert(0, {here!r})
from session_loader import SessionModel
with open(sys.argv[1]) as f:
    cases = json.load(f)
models = {{name: SessionModel(path) for name, path in cases["dirs"].items()}}
results = []
for name, model, signature, inputs in cases["requests"]:
    inputs = {{k: np.asarray(v) for k, v in inputs.items()}}
    try:
        models[model].run(signature, **inputs)
        results.append([name, "accepted", ""])
    except tf.errors.InvalidArgumentError as error:
        results.append([name, "InvalidArgumentError", error.message])
    except Exception as error:
        results.append([name, type(error).__name__, str(error)])
print(json.dumps(results))
"""


def _state_inputs(model, batch):
    return {name: value.numpy().tolist() for name, value in flatten_state(model.initial_state(batch)).items()}


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    keras.utils.set_random_seed(0)
    image = PixelCNN(image_shape=(5, 5, 1), num_levels=4, filters=4, num_residual_blocks=1, output_filters=8,
                     kernel_size=3, num_classes=3)
    audio = WaveNet(num_stacks=1, layers_per_stack=2, residual_channels=4, dilation_channels=4, skip_channels=8,
                    kernel_size=2, num_levels=8)
    dirs = {"image": saved_model(image, str(root / "image")),
            "audio": saved_model(audio, str(root / "audio"), **AUDIO_LIMITS)}
    requests = []
    for name, model, signature, inputs, _ in HOSTILE:
        inputs = {k: np.asarray(v).tolist() for k, v in inputs.items()}
        if "state" in inputs:
            inputs.update(_state_inputs(audio, inputs.pop("state")))
        requests.append([name, model, signature, inputs])
    cases = root / "cases.json"
    cases.write_text(json.dumps({"dirs": dirs, "requests": requests}))
    script = SCRIPT.format(cap=MEMORY_CAP, here=HERE)
    # the timeout only stops a hung run; a request that were accepted would hold the process for minutes
    done = subprocess.run([sys.executable, "-c", script, str(cases)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = {name: (kind, message) for name, kind, message in json.loads(done.stdout.strip().splitlines()[-1])}
    records = {name: json.loads((root / name / "tfar_export.json").read_text()) for name in dirs}
    return results, records


@pytest.mark.parametrize("name,expected", [(case[0], case[4]) for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_request_is_refused_with_a_named_limit(hostile_results, name, expected):
    kind, message = hostile_results[0][name]
    assert kind == "InvalidArgumentError", f"{name}: {kind} {message[:500]}"
    assert expected in message


def test_limits_are_recorded_in_the_export_metadata(hostile_results):
    records = hostile_results[1]
    assert records["image"]["limits"] == {"max_num_samples": 64, "max_batch_size": 256}
    assert records["audio"]["limits"] == AUDIO_LIMITS


def test_cli_flags_set_the_limits_and_their_help_states_the_defaults(tmp_path):
    assert HELP_DEFAULTS == DEFAULT_LIMITS
    out = tmp_path / "served"
    overrides = ["num_stacks=1", "layers_per_stack=2", "residual_channels=4", "dilation_channels=4",
                 "skip_channels=8", "kernel_size=2", "num_levels=8"]
    assert export_main(["wavenet", "--out", str(out), "--format", "saved_model", "--untrained", "--set", *overrides,
                        "--max-num-samples", "5", "--max-length", "1000", "--max-batch-size", "7"]) == 0
    record = json.loads((out / "1" / "tfar_export.json").read_text())
    assert record["limits"] == {"max_num_samples": 5, "max_length": 1000, "max_batch_size": 7}


def test_exporter_rejects_bad_limits(tmp_path):
    image = PixelCNN(image_shape=(5, 5, 1), num_levels=4, filters=4, num_residual_blocks=1, output_filters=8,
                     kernel_size=3)
    with pytest.raises(ValueError, match="max_num_samples must be a positive int, got 0"):
        saved_model(image, str(tmp_path / "a"), max_num_samples=0)
    with pytest.raises(ValueError, match="max_length=100 applies to audio models only"):
        saved_model(image, str(tmp_path / "b"), max_length=100)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

"""The optional ``sample_xla`` signature (``saved_model(..., xla_sample=True)``, ``tfar export --xla-sample``).

Through the session loader TF Serving uses, it equals ``model.sample`` value for value (the same
XLA-compiled loop); it alone carries ``_XlaMustCompile``, so the default ``sample`` stays
servable without XLA; it is left out of the warmup, and a default export does not have it.
"""

import json
import os

import numpy as np
import pytest
from tensorflow.core.protobuf import saved_model_pb2

from session_loader import SessionModel
from tfar.export import saved_model
from tfar.models import GatedPixelCNN, WaveNet

MODELS = {
    "GatedPixelCNN": lambda: GatedPixelCNN(image_shape=(4, 4, 1), num_classes=3, filters=8, num_layers=2,
                                           output_filters=8, input_kernel_size=3),
    "WaveNet": lambda: WaveNet(num_stacks=1, layers_per_stack=3, residual_channels=8, dilation_channels=8,
                               skip_channels=8),
}


def _marked_functions(export_dir):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library.function
    return {fn.signature.name for fn in library
            if fn.attr["_XlaMustCompile"].b or any(n.attr["_XlaMustCompile"].b for n in fn.node_def)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    model = MODELS[request.param]()
    model.build()
    export_dir = str(tmp_path_factory.mktemp(request.param) / "1")
    saved_model(model, export_dir, xla_sample=True)
    return model, export_dir


def test_sample_xla_equals_model_sample_through_the_session_loader(exported):
    model, export_dir = exported
    served = SessionModel(export_dir)
    assert {"sample", "sample_xla"} <= set(served.signatures)
    assert served.inputs("sample_xla") == served.inputs("sample")
    request = {"num_samples": 3, "seed": 11, "temperature": 1.0}
    kwargs = {}
    if model.num_classes is not None:
        request["condition"] = kwargs["condition"] = np.array([2, 0, 1], np.int32)
    if model.event_shape == (None,):
        request["length"] = kwargs["length"] = 300
    out = served.run("sample_xla", **request)["samples"]
    np.testing.assert_array_equal(out, model.sample(3, seed=11, **kwargs).numpy())
    with pytest.raises(Exception, match="num_samples"):  # the same request checks as sample
        served.run("sample_xla", **dict(request, num_samples=10**6))


def test_only_sample_xla_needs_xla_and_it_is_not_warmed_up(exported):
    _, export_dir = exported
    marked = _marked_functions(export_dir)
    assert marked, "sample_xla carries no _XlaMustCompile function"
    record = json.loads(open(os.path.join(export_dir, "tfar_export.json")).read())
    assert record["xla_signatures"] == ["sample_xla"] and "sample_xla" in record["signatures"]
    assert "sample_xla" not in record["warmup"]["signatures"]
    # the functions the other signatures call: none of them is marked
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0]
    library = {fn.signature.name: fn for fn in graph.graph_def.library.function}
    by_output = {}
    for node in graph.graph_def.node:
        for key in ("f",):
            if key in node.attr and node.attr[key].func.name:
                by_output[node.name] = node.attr[key].func.name

    def reachable(name, seen):
        if name in seen or name not in library:
            return seen
        seen.add(name)
        for node in library[name].node_def:
            for attr in node.attr.values():
                names = [attr.func.name] + [f.name for f in attr.list.func]
                for called in names:
                    if called:
                        reachable(called, seen)
        return seen

    for signature, sig in graph.signature_def.items():
        if signature.startswith("__"):
            continue
        call = sig.outputs[sorted(sig.outputs)[0]].name.split(":")[0]
        functions = reachable(by_output[call], set())
        assert functions, signature
        assert bool(functions & marked) == (signature == "sample_xla"), signature


def test_a_default_export_has_no_sample_xla(tmp_path):
    model = MODELS["WaveNet"]()
    model.build()
    export_dir = saved_model(model, str(tmp_path / "1"))
    assert _marked_functions(export_dir) == set()
    record = json.loads(open(os.path.join(export_dir, "tfar_export.json")).read())
    assert "sample_xla" not in record["signatures"] and record["xla_signatures"] == []

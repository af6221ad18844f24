"""Export a tfar model to ONNX (tf2onnx): a likelihood graph and a single-step graph.

ONNX has no counterpart of TensorFlow's stateless random ops and tf2onnx drops
variable assignments, so nothing random or stateful is exported. Sampling runs in
the caller, who owns the state and the noise:

    log_prob.onnx       x int32 [B, *event_shape] (+ condition int32 [B])
                        -> log_prob float32 [B] (nats), bits_per_dim float32 [B]
    step.onnx           x_prev int32 [B, *position_shape], state__<key> ...
                        -> params float32, next_state__<key> ...
    initial_state.onnx  batch_size int32 [] (+ condition int32 [B]) -> state__<key> ...

``params`` are the next position's distribution parameters (logits for the softmax
and Bernoulli heads); draw x_t from them, e.g. ``argmax(logits / T + Gumbel noise)``,
and feed ``next_state__*`` back as ``state__*``. Names are listed in
``tfar_export.json``; the state naming is that of :mod:`tfar.export.saved_model_signatures`.
"""

import os

import tensorflow as tf

from tfar.arg_checks import checked_int
from tfar.export.saved_model_signatures import check_dir, check_model, describe, model_functions, model_metadata, write_metadata

DEFAULT_OPSET = 17


def _branch_shapes_fixed(graph):
    """The frozen GraphDef with the input shapes of every ``tf.cond`` branch filled in.

    Freezing leaves the branch functions' arguments with unknown rank, and tf2onnx
    then cannot convert shape-dependent ops inside a branch (Conv, Unpack, ReverseV2,
    ConcatV2), as in a cached step that updates its cache only at row starts. The shapes
    are the ``If`` node's inputs after the predicate. A branch holding a ``tf.cond`` of
    its own (PixelCNN++ updates a coarser level inside the row update of a finer one) is
    rebuilt as a graph with its argument shapes, which gives the inner node's inputs.
    """
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

    graph_def = graph.as_graph_def(add_shapes=True)
    library = {f.signature.name: f for f in graph_def.library.function}

    def fill(if_ops):
        for op in if_ops:
            shapes = [t.shape for t in op.inputs[1:]]
            for branch in ("then_branch", "else_branch"):
                function = library[op.get_attr(branch).name]
                for i, shape in enumerate(shapes):
                    listed = function.arg_attr[i].attr["_output_shapes"].list
                    del listed.shape[:]
                    listed.shape.add().CopyFrom(shape.as_proto())
                inner = [o for o in function_def_to_graph(function, input_shapes=shapes).get_operations()
                         if o.type in ("If", "StatelessIf")]
                fill(inner)

    fill([op for op in graph.get_operations() if op.type in ("If", "StatelessIf")])
    return graph_def


def _convert(fn, specs, path, opset):
    """Convert ``fn(**inputs)`` with named inputs ``specs`` to a checked ONNX file; describe its tensors.

    Variables are frozen into constants (functions inlined), the branch shapes are
    filled in, and the graph goes to tf2onnx as is: its own TensorFlow re-optimisation
    pass would drop the branch shapes again. ``onnx.checker`` validates the result.
    """
    import onnx as onnx_lib
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from tf2onnx import convert

    names = list(specs)

    def call(*flat):
        outputs = fn(**dict(zip(names, flat)))
        return {name: tf.identity(value, name=name) for name, value in outputs.items()}

    concrete = tf.function(call, input_signature=[specs[name] for name in names]).get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False, aggressive_inlining=True)
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    rename = dict(zip(inputs, names))
    rename.update({t.name: key for key, t in concrete.structured_outputs.items()})
    # tf2onnx 1.17's converter core (from_graph_def = TF grappler pass + this)
    proto, _ = convert._convert_common(
        _branch_shapes_fixed(frozen.graph), name=os.path.splitext(os.path.basename(path))[0],
        continue_on_error=True, opset=opset, input_names=inputs, output_names=outputs, tensors_to_rename=rename,
    )
    try:
        onnx_lib.checker.check_model(proto, full_check=True)
    except (onnx_lib.checker.ValidationError, onnx_lib.shape_inference.InferenceError) as error:
        raise ValueError(f"tf2onnx could not convert {os.path.basename(path)}: {str(error).splitlines()[0]}") from None
    onnx_lib.save(proto, path)
    return {
        "inputs": describe(specs),
        "outputs": {o.name: {"dtype": _onnx_dtype(o), "shape": _onnx_shape(o)} for o in proto.graph.output},
    }


def _onnx_dtype(value_info):
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(value_info.type.tensor_type.elem_type).name


def _onnx_shape(value_info):
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def onnx(model, output_dir, *, opset=DEFAULT_OPSET, overwrite=False, metadata=None):
    """Write ``log_prob.onnx``, ``step.onnx`` (and ``initial_state.onnx``) to ``output_dir``.

    Returns {"log_prob": path, "step": path}. Needs the ``onnx`` extra
    (``pip install tfar[onnx]``: tf2onnx and onnxruntime).
    """
    model = check_model(model)
    try:
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise ImportError(f"ONNX export needs tf2onnx: pip install 'tfar[onnx]' ({error})") from None
    checked_int("opset", opset, "an int >= 13", lambda v: v >= 13)
    output_dir = check_dir(output_dir, overwrite)
    shared = model_functions(model)
    graphs = {name: shared[name] for name in ("log_prob", "step", "initial_state")}
    os.makedirs(output_dir, exist_ok=True)
    paths, signatures = {}, {}
    for name, (fn, graph_specs) in graphs.items():
        paths[name] = os.path.join(output_dir, f"{name}.onnx")
        signatures[name] = _convert(fn, graph_specs, paths[name], opset)
        signatures[name]["file"] = os.path.basename(paths[name])
    record = model_metadata(model, metadata)
    record.update(format="onnx", opset=opset, graphs=signatures)
    write_metadata(output_dir, record)
    return {"log_prob": paths["log_prob"], "step": paths["step"]}

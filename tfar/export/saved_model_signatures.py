"""Export a tfar model as a TensorFlow SavedModel for TF Serving.

Every signature is a pure function of its inputs: no variable is read-modify-written,
so concurrent requests never share state (TF Serving runs signatures as pure functions).

    log_prob (also serving_default)
        in:  x int32 [B, *event_shape]            (+ condition int32 [B])
        out: log_prob float32 [B]                  log p(x) in nats
             bits_per_dim float32 [B]              -log p(x) / (D ln 2), D = values per example
    sample
        in:  num_samples int32 [], seed int32 [], temperature float32 []
             (+ condition int32 [num_samples]) (+ length int32 [] for audio)
        out: samples int32 [num_samples, *event_shape]
        Ancestral sampling over ``step`` with the stateless seed [seed, 0]: the same
        draws as ``model.sample(num_samples, seed=seed, temperature=temperature)``.
    initial_state
        in:  batch_size int32 [] (+ condition int32 [batch_size])
        out: state__<key> ...                      the model's initial_state, flattened
    step
        in:  x_prev int32 [B, *position_shape], state__<key> ...
        out: params float32 (the next position's distribution parameters),
             next_state__<key> ...

State is the model's nested dict ``initial_state(batch, condition)`` flattened to one
tensor per leaf, named by its key path joined with "__" (SignatureDef input keys only
allow [A-Za-z0-9_]): ``{"canvas": c, "position": p}`` -> ``state__canvas``,
``state__position``; step returns the same leaves as ``next_state__<key>``.
The names are listed in ``tfar_export.json`` next to the SavedModel.

Every input is checked before any work (:mod:`tfar.export.request_checks`): requests
are bounded by ``max_num_samples``, ``max_length`` (audio) and ``max_batch_size``,
fixed at export time and recorded in ``tfar_export.json``. The SavedModel tracks the
model's plain ``tf.Variable`` objects, so TF Serving's session-based loader restores
them, and carries TF Serving warmup requests (:mod:`tfar.export.warmup`).
"""

import json
import math
import os
import re

import numpy as np
import tensorflow as tf

from tfar.export import request_checks as rc
from tfar.export.served_sampling import sample_loop, sample_loop_xla
from tfar.export.warmup import AUDIO_WARMUP_LENGTH, WARMUP_DIR, WARMUP_FILE, warmup_inputs, write_warmup
from tfar.models.base import AutoregressiveModel
from tfar.zoo import is_audio

SEP = "__"
STATE = "state"
NEXT_STATE = "next_state"
METADATA_FILE = "tfar_export.json"
SIGNATURES = ("serving_default", "log_prob", "sample", "initial_state", "step")
_KEY = re.compile(r"^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$")
# Ops that write to a variable or a stateful random generator: a serving signature must not contain them.
_MUTATING_PREFIXES = ("Assign", "ResourceScatter", "ResourceApply", "ResourceStridedSliceAssign", "ScatterUpdate",
                      "StatefulUniform", "StatefulStandardNormal", "StatefulTruncatedNormal", "RngSkip",
                      "RngReadAndSkip")


# ------------------------------------------------------------------ input checks
def check_model(model):
    """The model itself (built), or a ValueError if it is not a tfar model."""
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(
            f"expected a tfar model (a tfar.models.AutoregressiveModel such as tfar.models.PixelCNN), "
            f"got {type(model).__name__}"
        )
    if not model.built:
        model.build()
    return model


def check_dir(path, overwrite=False):
    """Check ``path``: refuse an existing file or non-empty directory unless ``overwrite``."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"the export directory must be a non-empty path, got {path!r}")
    path = os.fspath(path)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ValueError(f"export directory {path!r} exists and is a file")
        if os.listdir(path) and not overwrite:
            raise ValueError(f"export directory {path!r} exists and is not empty; pass overwrite=True or a new path")
    return path


# ------------------------------------------------------------------ state names
def flatten_state(state, prefix=STATE):
    """Nested dict/list of tensors -> {"<prefix>__<key>__<subkey>": tensor} in a fixed order."""
    flat = {}

    def visit(name, value):
        if isinstance(value, dict):
            for key in sorted(value):
                if not isinstance(key, str) or not _KEY.match(key):
                    raise ValueError(
                        f"state key {key!r} (under {name!r}) cannot be exported: keys must be letters, digits "
                        f"and single underscores"
                    )
                visit(f"{name}{SEP}{key}", value[key])
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(f"{name}{SEP}{i}", item)
        else:
            flat[name] = value

    visit(prefix, state)
    return flat


def unflatten_state(flat, template, prefix=STATE):
    """Inverse of :func:`flatten_state`: rebuild ``template``'s structure from ``flat``."""
    if isinstance(template, dict):
        return {key: unflatten_state(flat, value, f"{prefix}{SEP}{key}") for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return type(template)(unflatten_state(flat, v, f"{prefix}{SEP}{i}") for i, v in enumerate(template))
    return flat[prefix]


def feature_channels(model):
    """Channels of the local feature frames the model conditions on (a vocoder's mel bands), or None."""
    if getattr(model, "local_condition_channels", None) is None:
        return None
    return int(getattr(model, "num_mels", None) or model.local_condition_channels)


def model_condition(model, labels=None, features=None):
    """What ``model.initial_state``/``call`` take as ``condition``: labels, or dict(labels, features)."""
    return labels if feature_channels(model) is None else {"labels": labels, "features": features}


def _condition_or_none(model, batch, frames=2):
    labels = None if model.num_classes is None else tf.zeros([batch], tf.int32)
    channels = feature_channels(model)
    features = None if channels is None else tf.zeros([batch, frames, channels])
    return model_condition(model, labels, features)


def state_specs(model):
    """(template, {"state__<key>": TensorSpec}, {"state__<key>": batch axes}) of ``model.initial_state``.

    Dimensions that change with the batch size (built at sizes 2 and 3), or with the
    number of local feature frames (2 and 3), become None; the batch axes are those
    that change with the batch size.
    """
    small = model.initial_state(2, condition=_condition_or_none(model, 2))
    larger = {"batch": model.initial_state(3, condition=_condition_or_none(model, 3)),
              "frames": model.initial_state(2, condition=_condition_or_none(model, 2, frames=3))}
    flat_small = flatten_state(small)
    flat_larger = {key: flatten_state(state) for key, state in larger.items()}
    specs, batch_axes = {}, {}
    for name, a in flat_small.items():
        changed = {key: [da != db for da, db in zip(a.shape, flat[name].shape)] for key, flat in flat_larger.items()}
        shape = [None if by_batch or by_frames else d
                 for d, by_batch, by_frames in zip(a.shape, changed["batch"], changed["frames"])]
        specs[name] = tf.TensorSpec(shape, tf.as_dtype(a.dtype), name=name)
        batch_axes[name] = [axis for axis, by_batch in enumerate(changed["batch"]) if by_batch]
    return small, specs, batch_axes


def renamed(flat, old=STATE, new=NEXT_STATE):
    """{"state__k": v} -> {"next_state__k": v}."""
    return {new + name[len(old):]: value for name, value in flat.items()}


# ------------------------------------------------------------------ signature bodies
def _scalar(name, dtype=tf.int32):
    return tf.TensorSpec([], dtype, name=name)


def _assert_levels(model, x, name="x"):
    return [
        tf.debugging.assert_non_negative(x, message=f"{name} has a value < 0"),
        tf.debugging.assert_less(x, model.num_levels, message=f"{name} has a value >= num_levels={model.num_levels}"),
    ]


def _assert_labels(model, condition):
    return [
        tf.debugging.assert_non_negative(condition, message="condition has a label < 0"),
        tf.debugging.assert_less(condition, model.num_classes,
                                 message=f"condition has a label >= num_classes={model.num_classes}"),
    ]


def condition_specs(model):
    """{"condition": int32 [B]} for a class-conditional model, {"features": float32 [B, F, C]} for
    one conditioned on local feature frames (both for both), else {}."""
    specs = {}
    if model.num_classes is not None:
        specs["condition"] = tf.TensorSpec([None], tf.int32, name="condition")
    if feature_channels(model) is not None:
        specs["features"] = tf.TensorSpec([None, None, feature_channels(model)], tf.float32, name="features")
    return specs


def model_functions(model, limits=None):
    """{name: (fn, input specs)} of ``log_prob``, ``initial_state`` and ``step``, written by both exporters.

    Each fn takes its inputs as keyword arguments named like its specs. With ``limits``
    (see :mod:`tfar.export.request_checks`) every input is checked first: shapes, batch
    sizes and lengths within the limits, levels and labels in range. The ONNX graphs go
    without (``limits=None``): ONNX Runtime checks shapes against the graph's own.
    """
    template, specs, batch_axes = state_specs(model)
    x_spec = tf.TensorSpec([None, *model.event_shape], tf.int32, name="x")
    x_prev_spec = tf.TensorSpec([None, *model.position_shape], tf.int32, name="x_prev")
    condition = condition_specs(model)
    checked = limits is not None
    max_batch = None if limits is None else limits["max_batch_size"]

    def log_prob(x, condition=None, features=None):
        if checked:
            x = rc.checked_batch(x, "x", x_spec.shape.as_list(), max_batch, limits.get("max_length"))
            condition, features = check_conditioning(model, condition, features, tf.shape(x)[0], "x", max_batch,
                                                     length=tf.shape(x)[1] if features is not None else None)
            x = rc.after(_assert_levels(model, x), x)
        if features is None:
            log_prob = model.log_prob(x, condition=condition)
        else:  # the public call with frames; log_prob's own checks need static shapes
            params = model(x, condition=condition, features=features)
            log_prob = tf.reduce_sum(model.head.log_prob(params, x), axis=1)
        dims = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
        return {"log_prob": log_prob, "bits_per_dim": -log_prob / (dims * math.log(2.0))}

    def initial_state(batch_size, condition=None, features=None):
        if checked:
            batch_size = rc.checked_count(batch_size, "batch_size", "max_batch_size", max_batch)
            condition, features = check_conditioning(model, condition, features, batch_size, "batch_size", max_batch)
        return flatten_state(model.initial_state(batch_size, condition=model_condition(model, condition, features)))

    def step(**inputs):
        x_prev = inputs["x_prev"]
        if checked:
            x_prev = rc.checked_batch(x_prev, "x_prev", x_prev_spec.shape.as_list(), max_batch)
            x_prev = rc.after(_assert_levels(model, x_prev, "x_prev"), x_prev)
            batch = tf.shape(x_prev)[0]
            inputs = dict(inputs)
            for name, spec in specs.items():
                with tf.control_dependencies([x_prev]):  # x_prev's own error comes first
                    leaf = rc.checked_shape(inputs[name], name, spec.shape.as_list())
                axes = batch_axes[name]
                inputs[name] = rc.checked_same_batch(leaf, name, batch, "x_prev", axes) if axes else leaf
        params, new_state = model.step(x_prev, unflatten_state(inputs, template))
        return {"params": tf.cast(params, tf.float32), **renamed(flatten_state(new_state))}

    return {
        "log_prob": (log_prob, {"x": x_spec, **condition}),
        "initial_state": (initial_state, {"batch_size": _scalar("batch_size"), **condition}),
        "step": (step, {"x_prev": x_prev_spec, **specs}),
    }


def check_conditioning(model, labels, features, batch, batch_name, max_batch, length=None, max_length=None):
    """(labels, features) of a request checked against its batch (and ``length`` samples).

    Labels: [batch] in [0, num_classes). Features: float [batch, F, C], finite, with
    F * hop >= ``length`` when given, and F * hop <= ``max_length`` when given.
    """
    with tf.control_dependencies([batch]):  # the batch's own error comes first
        if labels is not None:
            labels = rc.checked_batch(labels, "condition", [None], max_batch)
        if features is not None:
            features = rc.checked_batch(features, "features", [None, None, feature_channels(model)], max_batch)
    if labels is not None:
        labels = rc.checked_same_batch(labels, "condition", batch, batch_name)
        labels = rc.after(_assert_labels(model, labels), labels)
    if features is not None:
        features = rc.checked_same_batch(features, "features", batch, batch_name)
        checks = [tf.debugging.assert_all_finite(features, "features must be finite")]
        covered = tf.shape(features)[1] * model.hop
        checks.append(tf.debugging.assert_positive(covered, message="features must hold at least one frame"))
        if length is not None:
            checks.append(tf.debugging.assert_greater_equal(
                covered, length, message=f"features must cover every sample of x: frames * hop (hop={model.hop}) "
                                         f">= length of x"))
        if max_length is not None:
            checks.append(tf.debugging.assert_less_equal(
                covered, max_length, message=f"features cover more than max_length={max_length} samples "
                                             f"(frames * hop, hop={model.hop}), {rc.LIMIT_NOTE}"))
        features = rc.after(checks, features)
    return labels, features


# ------------------------------------------------------------------ the exporter
def _signature(fn, specs):
    """A tf.function of one dict argument: SignatureDef keys are the dict keys."""

    def call(inputs):
        return fn(**inputs)

    return tf.function(call, input_signature=[specs])


def build_signatures(model, limits, xla_sample=False):
    """{name: concrete function} of the five pure serving signatures, every input checked against ``limits``.

    ``xla_sample`` adds ``sample_xla``: ``sample``'s inputs and checks, drawn by the XLA-compiled
    loop of ``model.sample`` (:func:`tfar.export.served_sampling.sample_loop_xla`).
    """
    audio = is_audio(model)
    per_position = int(np.prod(model.position_shape))

    def sampler(loop):
        return lambda *args, **kwargs: sample(*args, loop=loop, **kwargs)

    def sample(num_samples, seed, temperature, condition=None, length=None, features=None, loop=sample_loop):
        num_samples = rc.checked_count(num_samples, "num_samples", "max_num_samples", limits["max_num_samples"])
        seed = rc.checked_scalar(seed, "seed")
        temperature = rc.checked_temperature(temperature)
        if audio and features is None:
            length = rc.checked_count(length, "length", "max_length", limits["max_length"])
        condition, features = check_conditioning(model, condition, features, num_samples, "num_samples",
                                                 limits["max_num_samples"], max_length=limits.get("max_length"))
        if features is not None:  # a vocoder draws one sample per sample of its frames
            length = tf.shape(features)[1] * model.hop
        positions = length // per_position if audio else model.num_positions()
        flat = loop(model, num_samples, seed, temperature, model_condition(model, condition, features), positions)
        return {"samples": model.unflatten(flat)}

    sample_specs = {"num_samples": _scalar("num_samples"), "seed": _scalar("seed"),
                    "temperature": _scalar("temperature", tf.float32), **condition_specs(model)}
    if audio and feature_channels(model) is None:  # with frames, the length is frames * hop
        sample_specs["length"] = _scalar("length")
    shared = model_functions(model, limits)
    functions = {"log_prob": shared["log_prob"], "sample": (sampler(sample_loop), sample_specs),
                 "initial_state": shared["initial_state"], "step": shared["step"]}
    if xla_sample:
        functions["sample_xla"] = (sampler(sample_loop_xla), sample_specs)
    concrete = {name: _signature(fn, specs).get_concrete_function() for name, (fn, specs) in functions.items()}
    for name, fn in concrete.items():
        check_pure(fn, name)
    concrete["serving_default"] = concrete["log_prob"]
    return concrete


def check_pure(concrete_function, name):
    """Raise ValueError if the traced graph assigns a variable or advances a random generator."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    bad = sorted({n.op for n in nodes if n.op.startswith(_MUTATING_PREFIXES)})
    if bad:
        raise ValueError(
            f"signature {name!r} mutates state (ops {bad}); exported signatures must be pure: carry the state "
            f"explicitly through initial_state/step instead of assigning variables"
        )


def serving_variables(model):
    """The model's variables as plain ``tf.Variable`` objects (``.value`` of each Keras variable).

    A module that tracks Keras 3's variable wrappers saves and reloads with
    ``tf.saved_model.load``, but the session-based loader of TF Serving then fails at the
    first request with "Could not find variable ...": the graph's captured handles are the
    inner variables', which the saver does not restore (tensorflow/serving#2226).
    """
    return [getattr(v, "value", v) for v in model.variables]


def describe(specs_or_tensors):
    """{name: {"dtype", "shape"}} of a dict of TensorSpecs or symbolic tensors."""
    return {
        name: {"dtype": tf.as_dtype(t.dtype).name, "shape": None if t.shape.rank is None else t.shape.as_list()}
        for name, t in specs_or_tensors.items()
    }


def model_metadata(model, metadata=None):
    """The model's class, config and shapes as a JSON-ready dict (``metadata`` merged in)."""
    import tfar

    record = {
        "tfar_version": tfar.__version__,
        "model": {"class": type(model).__name__, "config": model.get_config()},
        "event_shape": [d for d in model.event_shape],
        "position_shape": list(model.position_shape),
        "num_levels": model.num_levels,
        "num_classes": model.num_classes,
        "head": type(model.head).__name__,
        "state_naming": f"state leaves are named '{STATE}{SEP}<key>[{SEP}<subkey>...]' on input and "
                        f"'{NEXT_STATE}{SEP}<key>...' on output of step",
    }
    record.update(metadata or {})
    return record


def write_metadata(directory, record):
    path = os.path.join(directory, METADATA_FILE)
    with open(path, "w") as f:
        json.dump(record, f, indent=2, default=str)
        f.write("\n")
    return path


def saved_model(model, export_dir, *, overwrite=False, metadata=None, max_num_samples=None, max_length=None,
                max_batch_size=None, warmup=True, xla_sample=False):
    """Write ``model`` as a SavedModel with pure, bounded serving signatures; return ``export_dir``.

    Args:
      model: a tfar model (``tfar.models.AutoregressiveModel``); built if needed.
      export_dir: target directory; for TF Serving use ``<base_path>/<version>``.
      overwrite: allow writing into an existing non-empty directory.
      metadata: extra JSON-ready entries for ``tfar_export.json`` (e.g. {"zoo_name": ...}).
      max_num_samples: most samples one ``sample`` request may ask for (default 64).
      max_length: audio models: most samples per sequence in ``sample`` and ``log_prob``
        (default 160,000).
      max_batch_size: most examples of one ``log_prob``, ``initial_state`` or ``step``
        request (default 256).
      warmup: write ``assets.extra/tf_serving_warmup_requests`` (one small request per signature but
        ``sample_xla``, which a server without XLA would fail on at load).
      xla_sample: add a ``sample_xla`` signature, ``sample`` drawn by ``model.sample``'s
        XLA-compiled loop, equal to it value for value; only a TF Serving started with
        ``--xla_cpu_compilation_enabled`` runs it (its functions carry ``_XlaMustCompile``).

    A request over a limit, or with a wrongly shaped, zero, negative or non-finite value,
    fails with InvalidArgument naming the input and the limit, before any work is done.
    """
    model = check_model(model)
    export_dir = check_dir(export_dir, overwrite)
    limits = rc.export_limits(is_audio(model), max_num_samples, max_length, max_batch_size)
    concrete = build_signatures(model, limits, xla_sample=xla_sample)
    module = tf.Module()
    # the tf.Variables under Keras's wrappers: TF Serving's session loader restores through the
    # SavedModel's saver, which only knows the variables the object graph tracks as tf.Variables
    module.model_variables = serving_variables(model)
    tf.saved_model.save(module, export_dir, signatures=concrete)
    signatures = {
        name: {"inputs": describe(fn.structured_input_signature[0][0]), "outputs": describe(fn.structured_outputs)}
        for name, fn in concrete.items()
    }
    record = model_metadata(model, metadata)
    record.update(format="saved_model", signatures=signatures, serving_default="log_prob", limits=limits,
                  xla_signatures=["sample_xla"] if xla_sample else [])
    if warmup:
        condition = _condition_or_none(model, 1, frames=1)
        example = {name: value.numpy() for name, value in
                   flatten_state(model.initial_state(1, condition=condition)).items()}
        channels = feature_channels(model)
        conditioning = {} if model.num_classes is None else {"condition": np.zeros([1], np.int32)}
        if channels is not None:
            conditioning["features"] = np.zeros([1, 1, channels], np.float32)
        audio_length = None if not is_audio(model) else (model.hop if channels is not None else AUDIO_WARMUP_LENGTH)
        requests = warmup_inputs(model, example, conditioning, audio_length, sample_length=channels is None)
        write_warmup(export_dir, requests)
        record["warmup"] = {"file": f"{WARMUP_DIR}/{WARMUP_FILE}", "signatures": list(requests)}
    write_metadata(export_dir, record)
    return export_dir

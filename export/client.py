"""Client for a tfar model behind TF Serving: REST (row or columnar JSON) and gRPC.

    python export/client.py --model pixelcnn sample --num 4 --seed 0 --out samples.npy
    python export/client.py --model pixelcnn log-prob samples.npy
    python export/client.py --model pixelcnn --format row log-prob samples.npy        # "instances"
    python export/client.py --model pixelcnn --grpc sample --num 4 --seed 0            # :8500, Predict
    python export/client.py --model pixelcnn sample-steps --num 2 --seed 0   # one step request per position
    python export/client.py --model pixelcnn signatures                       # the served SignatureDefs

REST needs only the standard library and NumPy. gRPC (``api="grpc"``, ``--grpc``) imports
``grpc`` and ``tensorflow-serving-api`` (which pulls in TensorFlow's protos) on first use.

Request formats (TF Serving's REST API has two):

* columnar (``{"inputs": {name: value}}``, the default): carries any signature,
  including the scalar inputs of ``sample`` (``num_samples``, ``seed``, ...),
  ``initial_state`` (``batch_size``) and ``step`` (``state__position``).
* row (``{"instances": [{name: value_i}, ...]}``): one object per example, so every
  input must have the same size along dimension 0. tfar's ``log_prob`` qualifies
  (``x`` [B, ...], ``condition`` [B]); ``sample``, ``initial_state`` and ``step`` do not
  (scalars). A client made with ``format="row"`` therefore sends ``log_prob`` as rows
  and the other signatures columnar; ``client.last_format`` says what was sent, and
  ``predict(..., format="row")`` raises ValueError instead of switching.

gRPC has one format: a ``PredictRequest`` with a TensorProto per input. Inputs are sent as
int32 (Python/NumPy integers) or float32 (floats), the dtypes of every tfar signature.
"""

import argparse
import json
import socket
import sys
import urllib.error
import urllib.request

import numpy as np

STATE, NEXT_STATE = "state__", "next_state__"
_SINGLE_OUTPUT = {"sample": "samples"}  # a single output comes back without its name
FORMATS = ("columnar", "row")
APIS = ("rest", "grpc")
DEFAULT_ADDRESS = {"rest": "http://localhost:8501", "grpc": "localhost:8500"}


class ServingError(RuntimeError):
    """The server refused or failed a request: names the signature and quotes the server's message.

    ``code`` is the status name (``"INVALID_ARGUMENT"``, ``"NOT_FOUND"``, ... over gRPC;
    ``"HTTP 400"`` over REST), ``http_status`` the HTTP status (REST only), ``message`` the
    server's own text.
    """

    def __init__(self, signature, code, message, http_status=None):
        self.signature, self.code, self.message, self.http_status = signature, code, message, http_status
        super().__init__(f"{signature}: {code}: {message}")


# ------------------------------------------------------------------ tensors
def as_input(value):
    """A request value as the dtype tfar signatures take: int32 for integers, float32 for floats."""
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < -(2**31) or array.max() >= 2**31):
            raise ValueError(f"value out of int32 range: {array.min()}..{array.max()}")
        return array.astype(np.int32)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    if array.dtype.kind == "b":
        return array
    raise ValueError(f"cannot send a value of dtype {array.dtype} (tfar signatures take int32 and float32)")


def _jsonable(array):
    return array.item() if array.ndim == 0 else array.tolist()


def _from_json(value):
    """A JSON value as an array: int32 if every entry is an integer, else float32."""
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return array.astype(np.int32) if array.dtype.kind in "iu" else array
    return array.astype(np.float32)


def row_compatible(inputs):
    """True if every input has a dimension 0 of the same size (what TF Serving's row format needs)."""
    sizes = {np.shape(v)[0] if np.ndim(v) else None for v in inputs.values()}
    return bool(inputs) and None not in sizes and len(sizes) == 1


# TensorProto dtype enum values (tensorflow/core/framework/types.proto)
_DT = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3, np.dtype(np.uint8): 4,
       np.dtype(np.int16): 5, np.dtype(np.int8): 6, np.dtype(np.int64): 9, np.dtype(np.bool_): 10,
       np.dtype(np.uint16): 17, np.dtype(np.float16): 19, np.dtype(np.uint32): 22, np.dtype(np.uint64): 23}
_NP = {v: k for k, v in _DT.items()}
_VAL_FIELD = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
              9: "int64_val", 10: "bool_val", 17: "int_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val"}


def to_tensor_proto(array, tensor_pb2, tensor_shape_pb2):
    """NumPy array -> TensorProto (shape + little-endian ``tensor_content``), no TensorFlow needed."""
    array = np.asarray(array)
    if array.dtype not in _DT:
        raise ValueError(f"cannot send dtype {array.dtype} over gRPC")
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d))
                                                   for d in array.shape])
    content = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    return tensor_pb2.TensorProto(dtype=_DT[array.dtype], tensor_shape=shape, tensor_content=content)


def from_tensor_proto(proto):
    """TensorProto -> NumPy array, from ``tensor_content`` or the typed ``*_val`` fields (TF Serving uses either)."""
    if proto.dtype not in _NP:
        raise ValueError(f"cannot read TensorProto dtype enum {proto.dtype}")
    dtype = _NP[proto.dtype]
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = getattr(proto, _VAL_FIELD[proto.dtype])
    if proto.dtype == 19:  # half_val holds the float16 bit patterns
        flat = np.asarray(values, np.uint16).view(np.float16)
    else:
        flat = np.asarray(values, dtype)
    count = int(np.prod(shape))
    if flat.size == count:
        return flat.reshape(shape)
    if flat.size == 1:  # TF's compact form: one value repeated
        return np.full(shape, flat[0], dtype)
    if flat.size == 0:
        return np.zeros(shape, dtype)
    raise ValueError(f"TensorProto holds {flat.size} values for shape {shape}")


# ------------------------------------------------------------------ transports
class _Rest:
    def __init__(self, url, model, version, timeout):
        self.url, self.model, self.version, self.timeout = url.rstrip("/"), model, version, timeout

    def _base(self):
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.url}/v1/models/{self.model}{version}"

    def _call(self, what, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (json.JSONDecodeError, AttributeError):
                pass
            raise ServingError(what, f"HTTP {error.code}", detail, error.code) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            code = "DEADLINE_EXCEEDED" if isinstance(reason, (socket.timeout, TimeoutError)) else "UNAVAILABLE"
            raise ServingError(what, code, f"{url}: {reason} (timeout {self.timeout} s)") from None

    def predict(self, signature, inputs, row):
        if row:
            count = len(next(iter(inputs.values())))
            body = {"signature_name": signature,
                    "instances": [{k: _jsonable(v[i]) for k, v in inputs.items()} for i in range(count)]}
        else:
            body = {"signature_name": signature, "inputs": {k: _jsonable(v) for k, v in inputs.items()}}
        answer = self._call(signature, self._base() + ":predict", body)
        if row:
            rows = answer["predictions"]
            if rows and isinstance(rows[0], dict):
                return {k: _from_json([r[k] for r in rows]) for k in rows[0]}
            return {_SINGLE_OUTPUT.get(signature, "output"): _from_json(rows)}
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):
            outputs = {_SINGLE_OUTPUT.get(signature, "output"): outputs}
        return {k: _from_json(v) for k, v in outputs.items()}

    def status(self):
        return self._call("status", self._base())

    def signature_defs(self):
        answer = self._call("metadata", self._base() + "/metadata")
        defs = answer["metadata"]["signature_def"]["signature_def"]

        def tensors(infos):
            return {k: (v.get("dtype", "DT_INVALID")[3:].lower(),
                        None if v.get("tensor_shape", {}).get("unknown_rank")
                        else [int(d.get("size", -1)) for d in v.get("tensor_shape", {}).get("dim", [])])
                    for k, v in infos.items()}

        return {name: {"inputs": tensors(d.get("inputs", {})), "outputs": tensors(d.get("outputs", {}))}
                for name, d in defs.items()}

    def close(self):
        pass


class _Grpc:
    def __init__(self, target, model, version, timeout):
        import grpc  # only when gRPC is used
        from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

        from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

        self.grpc, self.predict_pb2, self.metadata_pb2 = grpc, predict_pb2, get_model_metadata_pb2
        self.tensor_pb2, self.tensor_shape_pb2, self.types_pb2 = tensor_pb2, tensor_shape_pb2, types_pb2
        self.target = target.split("://", 1)[-1]
        self.model, self.version, self.timeout = model, version, timeout
        self.channel = grpc.insecure_channel(self.target, options=[("grpc.max_receive_message_length", 1 << 30)])
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.last_model_spec = None

    def _spec(self, spec, signature=""):
        spec.name = self.model
        if self.version is not None:
            spec.version.value = int(self.version)
        if signature:
            spec.signature_name = signature

    def _call(self, what, method, request):
        try:
            return method(request, timeout=self.timeout)
        except self.grpc.RpcError as error:
            code = error.code()
            raise ServingError(what, code.name if code is not None else "UNKNOWN", error.details() or "") from None

    def predict(self, signature, inputs, row):
        request = self.predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(to_tensor_proto(value, self.tensor_pb2, self.tensor_shape_pb2))
        response = self._call(signature, self.stub.Predict, request)
        self.last_model_spec = response.model_spec
        return {name: from_tensor_proto(proto) for name, proto in response.outputs.items()}

    def signature_defs(self):
        request = self.metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        response = self._call("metadata", self.stub.GetModelMetadata, request)
        defs = self.metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(defs)

        def tensors(infos):
            return {k: (self.types_pb2.DataType.Name(v.dtype)[3:].lower(),
                        None if v.tensor_shape.unknown_rank else [d.size for d in v.tensor_shape.dim])
                    for k, v in infos.items()}

        return {name: {"inputs": tensors(d.inputs), "outputs": tensors(d.outputs)}
                for name, d in defs.signature_def.items()}

    def status(self):
        raise NotImplementedError("model status over gRPC is ModelService/GetModelStatus; use REST")

    def close(self):
        self.channel.close()


# ------------------------------------------------------------------ the client
class TfarClient:
    """Calls the signatures of one served tfar model: log_prob, sample, initial_state, step.

    Args:
      url: REST base address (``http://host:8501``) or, with ``api="grpc"``, ``host:8500``;
        None picks the TF Serving default port of ``api`` on localhost.
      model: the model name (``models.config``); version: a version number, or None for
        the newest one the server has loaded.
      timeout: seconds per request (REST socket timeout, gRPC deadline).
      api: ``"rest"`` or ``"grpc"``; format: ``"columnar"`` or ``"row"`` (REST; see the module
        docstring: row only where every input shares dimension 0).
    """

    def __init__(self, url=None, model="pixelcnn", version=None, timeout=60.0, *, api="rest", format="columnar"):
        if api not in APIS:
            raise ValueError(f"api must be one of {APIS}, got {api!r}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        if version is not None and (isinstance(version, bool) or int(version) != version or version < 1):
            raise ValueError(f"version must be a positive int or None, got {version!r}")
        if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.api, self.format, self.model, self.version, self.timeout = api, format, model, version, timeout
        self.url = url or DEFAULT_ADDRESS[api]
        self._transport = (_Rest if api == "rest" else _Grpc)(self.url, model, version, timeout)
        self.last_format = None
        self._defs = None

    def close(self):
        self._transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- generic
    def predict(self, signature, inputs, *, format=None):
        """Run ``signature`` on {name: value}; return {output name: NumPy array}.

        ``format`` (REST): ``"row"`` or ``"columnar"``, None for the client's choice (row
        where the inputs allow it). An explicit ``"row"`` the inputs cannot take raises ValueError.
        """
        inputs = {name: as_input(value) for name, value in inputs.items()}
        if format is not None and format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        if format == "row" and not row_compatible(inputs):
            shapes = {k: list(np.shape(v)) for k, v in inputs.items()}
            raise ValueError(f"{signature}: TF Serving's row format needs every input to share dimension 0; "
                             f"got shapes {shapes}: use format='columnar'")
        row = self.api == "rest" and (format or self.format) == "row" and row_compatible(inputs)
        self.last_format = "grpc" if self.api == "grpc" else ("row" if row else "columnar")
        return self._transport.predict(signature, inputs, row)

    def signature_defs(self):
        """{signature: {"inputs"|"outputs": {name: (dtype, shape or None)}}} from the server's metadata."""
        if self._defs is None:
            self._defs = self._transport.signature_defs()
        return self._defs

    def status(self):
        """REST model status (``GET /v1/models/<name>[/versions/<v>]``) as TF Serving's JSON."""
        return self._transport.status()

    # -------------------------------------------------------------- tfar signatures
    def log_prob(self, x, condition=None, signature="log_prob"):
        """log p(x) in nats and bits/dim for int levels x [B, *event_shape] (also ``signature="serving_default"``)."""
        inputs = {"x": np.asarray(x, np.int32)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        return self.predict(signature, inputs)

    def sample(self, num_samples, seed=0, temperature=1.0, condition=None, length=None):
        """int32 samples [num_samples, *event_shape] drawn by the server (the ``sample`` signature)."""
        inputs = {"num_samples": np.int32(num_samples), "seed": np.int32(seed),
                  "temperature": np.float32(temperature)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        if length is not None:
            inputs["length"] = np.int32(length)
        return self.predict("sample", inputs)["samples"].astype(np.int32)

    def initial_state(self, batch_size, condition=None):
        """{"state__<key>": array}: the state before the first position."""
        inputs = {"batch_size": np.int32(batch_size)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        return self.predict("initial_state", inputs)

    def step(self, x_prev, state):
        """(params, next state) for one position; the next state is keyed ``state__<key>`` to send back."""
        out = self.predict("step", {"x_prev": np.asarray(x_prev, np.int32), **state})
        params = out.pop("params")
        return params, {STATE + name[len(NEXT_STATE):]: value for name, value in out.items()}

    def stepper(self, batch_size, condition=None):
        """A :class:`Stepper` holding the state between ``step`` requests."""
        return Stepper(self, batch_size, condition)

    def num_positions(self):
        """Positions of one image (event size / position size), from the served SignatureDefs."""
        defs = self.signature_defs()
        event = defs["log_prob"]["inputs"]["x"][1]
        position = defs["step"]["inputs"]["x_prev"][1]
        if event is None or position is None or any(d < 0 for d in event[1:] + position[1:]):
            raise ValueError("the model's event size is not fixed (audio): pass num_positions")
        return int(np.prod(event[1:])) // int(np.prod(position[1:]))

    def _position_shape(self):
        """x_prev's shape after the batch: () or (C,) for PixelCNN++; () if the server has no metadata."""
        try:
            shape = self.signature_defs()["step"]["inputs"]["x_prev"][1]
        except (ServingError, KeyError, TypeError, ValueError):
            return []
        return [] if shape is None else [int(d) for d in shape[1:]]

    def sample_with_steps(self, num_samples, num_positions=None, seed=0, temperature=1.0, condition=None,
                          draw=None):
        """Ancestral sampling in the client: the server runs one ``step`` per request.

        Returns int32 [num_samples, num_positions, *position_shape] in the model's sampling
        order (``model.unflatten`` gives images). ``draw(params, t)`` picks position t's
        values; the default draws from softmax (params [B, L]) or Bernoulli (params [B])
        heads with NumPy noise from ``default_rng(seed)`` (the same distribution as the
        server's ``sample``, not the same values). To reproduce ``model.sample`` exactly, draw
        with the model's head and the sampler's seeds (see tests/test_serving_client.py).
        """
        if num_positions is None:
            num_positions = self.num_positions()
        if draw is None:
            rng = np.random.default_rng(seed)
            draw = lambda params, t: _numpy_draw(params, rng, temperature)  # noqa: E731
        stepper = self.stepper(num_samples, condition)
        x = np.zeros([num_samples, *self._position_shape()], np.int32)  # ignored at the first step
        drawn = []
        for t in range(num_positions):
            params = stepper.step(x)
            x = np.asarray(draw(params, t), np.int32)
            drawn.append(x)
        return np.stack(drawn, axis=1)


class Stepper:
    """The state of one generation: ``initial_state`` once, then each ``step(x_prev)`` sends it and keeps the next.

    ``state`` holds ``state__<key>`` arrays (the names ``tfar_export.json`` lists); each
    step's ``next_state__<key>`` outputs replace them. ``position`` counts the steps taken.
    """

    def __init__(self, client, batch_size, condition=None):
        self.client = client
        self.state = client.initial_state(batch_size, condition)
        self.position = 0

    def step(self, x_prev):
        params, self.state = self.client.step(x_prev, self.state)
        self.position += 1
        return params


def draw(params, rng, temperature=1.0):
    """One value per row: Gumbel-max over logits [B, L], or a Bernoulli draw from logits [B]."""
    logits = np.asarray(params, np.float64) / temperature
    if logits.ndim == 1:
        return (logits + rng.logistic(size=logits.shape) > 0).astype(np.int32)
    if logits.ndim != 2:
        raise ValueError(f"the NumPy draw handles logits [B, L] or [B]; got params of shape {logits.shape} "
                         f"(a mixture head): pass draw=")
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1).astype(np.int32)


_numpy_draw = draw


def _print_grid(samples, levels):
    """Grey images as ASCII art (first channel)."""
    ramp = " .:-=+*#%@"
    for image in samples:
        grid = image[..., 0] if image.ndim == 3 else image[None]
        for row in grid:
            print("".join(ramp[int(v) * (len(ramp) - 1) // max(levels - 1, 1)] for v in row))
        print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None,
                        help="server address (default http://localhost:8501, with --grpc localhost:8500)")
    parser.add_argument("--grpc", action="store_true", help="use gRPC PredictionService/Predict instead of REST")
    parser.add_argument("--format", choices=FORMATS, default="columnar",
                        help="REST request format; row applies to log-prob only (the others have scalar inputs)")
    parser.add_argument("--model", default="pixelcnn", help="model name in models.config")
    parser.add_argument("--version", type=int, default=None, help="model version (default: newest)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="draw samples with the sample signature")
    steps = commands.add_parser("sample-steps", help="draw samples with initial_state + one step request per position")
    for p in (sample, steps):
        p.add_argument("--num", type=int, default=4)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--temperature", type=float, default=1.0)
        p.add_argument("--label", type=int, default=None, help="class label of a conditional model")
        p.add_argument("--out", default=None, help="save the samples as .npy")
        p.add_argument("--levels", type=int, default=256, help="value range, for the ASCII preview")
    sample.add_argument("--length", type=int, default=None, help="audio: number of samples")
    steps.add_argument("--positions", type=int, default=None,
                       help="positions to draw (default: H*W*C / position size, from the server's metadata)")
    score = commands.add_parser("log-prob", help="score int levels stored in a .npy file")
    score.add_argument("path")
    score.add_argument("--label", type=int, default=None)
    score.add_argument("--signature", default="log_prob", help="log_prob or serving_default")
    commands.add_parser("signatures", help="list the served signatures' inputs and outputs")
    args = parser.parse_args(argv)

    api = "grpc" if args.grpc else "rest"
    with TfarClient(args.url, args.model, args.version, args.timeout, api=api, format=args.format) as client:
        try:
            return _run(client, args)
        except ServingError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1


def _run(client, args):
    if args.command == "signatures":
        for name, sig in sorted(client.signature_defs().items()):
            for side in ("inputs", "outputs"):
                for tensor, (dtype, shape) in sorted(sig[side].items()):
                    print(f"{name:16s} {side[:-1]:6s} {tensor:24s} {dtype:8s} {shape}")
        return 0
    if args.command == "log-prob":
        x = np.load(args.path)
        condition = None if args.label is None else np.full([len(x)], args.label, np.int32)
        out = client.log_prob(x, condition, signature=args.signature)
        for lp, bpd in zip(out["log_prob"], out["bits_per_dim"]):
            print(f"log_prob {lp:.3f} nats   {bpd:.4f} bits/dim")
        return 0
    condition = None if args.label is None else np.full([args.num], args.label, np.int32)
    if args.command == "sample":
        samples = client.sample(args.num, args.seed, args.temperature, condition, args.length)
    else:
        samples = client.sample_with_steps(args.num, args.positions, args.seed, args.temperature, condition)
    if args.out:
        np.save(args.out, samples)
        print(f"saved {samples.shape} -> {args.out}")
    if samples.ndim == 4:
        _print_grid(samples, args.levels)
    else:
        print(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())

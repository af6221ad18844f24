"""A STAND-IN for TF Serving, for tests: not TF Serving, which cannot be installed on these machines.

It serves a real exported SavedModel the way TF Serving's SavedModelBundle runs it: loaded by
the session-based loader (``tf.compat.v1.saved_model.loader.load`` into a Session with its own
Graph, one per model version), each request run by feeding and fetching the tensor names of
the MetaGraph's SignatureDefs. In front of that it speaks a subset of TF Serving's two APIs:

REST (JSON), on 127.0.0.1 at an ephemeral port:
    POST /v1/models/<name>[/versions/<v>]:predict
        {"signature_name": s, "instances": [...]}   row format, answered {"predictions": [...]}
        {"signature_name": s, "inputs": ...}        columnar format, answered {"outputs": ...}
        A single output comes back without its name (a list of values, or the value);
        several as a list of objects (row) or one object (columnar). Row format splits every
        input and output along dimension 0, so all of them must share that size.
    GET  /v1/models/<name>[/versions/<v>]           {"model_version_status": [...]}
    GET  /v1/models/<name>[/versions/<v>]/metadata  {"model_spec", "metadata": {"signature_def"}}
    Errors: {"error": message} with the HTTP status of the status code (INVALID_ARGUMENT and
    FAILED_PRECONDITION 400, NOT_FOUND 404, ...).

gRPC, on 127.0.0.1 at an ephemeral port: ``tensorflow.serving.PredictionService`` from
tensorflow-serving-api, methods ``Predict`` (with ``output_filter``) and ``GetModelMetadata``;
errors carry the status code (INVALID_ARGUMENT, ...) and the message.

What it does not do (the real server does): batching, model config polling, version labels,
Classify/Regress/MultiInference, warmup replay, b64 strings, the session's thread pools.
Bounded everywhere, as a test fixture should be: request bodies (``MAX_REQUEST_BYTES``),
concurrent requests (``MAX_CONCURRENT``; busy -> 503 / RESOURCE_EXHAUSTED), socket reads and
Session runs (``TIMEOUT_S``), and ``close()`` stops both servers and closes the sessions.

It imports TensorFlow, NumPy, grpc and tensorflow-serving-api, never tfar.

    python tests/serving_stand_in.py --model_name pixelcnn --model_base_path export/models/pixelcnn
"""

import http.server
import json
import os
import re
import threading
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import config_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from session_loader import SessionModel  # tests/session_loader.py: the session loader TF Serving uses

MAX_REQUEST_BYTES = 32 << 20
MAX_CONCURRENT = 4
TIMEOUT_S = 60.0
HTTP_STATUS = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
               "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
               "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
               "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class Status(Exception):
    """A request failed with a TF Serving status code name and a message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def status_of(error):
    """A TF OpError (InvalidArgumentError, ...) as the Status TF Serving would answer with."""
    if isinstance(error, Status):
        return error
    if isinstance(error, tf.errors.OpError):
        return Status(_CODE_NAMES.get(error.error_code, "UNKNOWN"), error.message)
    return Status("INTERNAL", f"{type(error).__name__}: {error}")


# ------------------------------------------------------------------ the session-loaded model
class LoadedVersion(SessionModel):
    """One SavedModel version in its own Graph and Session (the session loader of
    ``session_loader.SessionModel``), run by SignatureDef tensor names, TF Serving's way."""

    def __init__(self, export_dir, tags=("serve",)):
        super().__init__(export_dir, tags)
        self.export_dir = export_dir
        self._lock = threading.Lock()

    def signature(self, name):
        name = name or "serving_default"
        if name not in self.signatures:
            raise Status("FAILED_PRECONDITION", f'Serving signature key "{name}" not found.')
        return name, self.signatures[name]

    def run(self, signature_name, inputs, output_filter=()):
        """{input: array} -> {output: array}; every input of the signature, nothing else (as TF Serving)."""
        name, sig = self.signature(signature_name)
        sent, wanted = set(inputs), set(sig.inputs)
        if sent != wanted:
            raise Status("INVALID_ARGUMENT",
                         f"input size does not match signature: {len(sent)}!={len(wanted)} len({sorted(sent)}) != "
                         f"len({sorted(wanted)}). Sent extra: {sorted(sent - wanted)}. Missing but required: "
                         f"{sorted(wanted - sent)}.")
        outputs = sorted(output_filter) if output_filter else sorted(sig.outputs)
        unknown = [o for o in outputs if o not in sig.outputs]
        if unknown:
            raise Status("INVALID_ARGUMENT", f"output tensor alias not found in signature: {unknown[0]} Outputs "
                                             f"expected to be in the set {{{','.join(sorted(sig.outputs))}}}.")
        feeds = sorted(inputs)
        arrays = []
        for key in feeds:
            dtype = tf.as_dtype(sig.inputs[key].dtype)
            arrays.append(checked_dtype(inputs[key], dtype, key))
        key = (name, tuple(feeds), tuple(outputs))
        with self._lock:
            if key not in self._callables:
                options = config_pb2.CallableOptions()
                options.feed.extend(sig.inputs[n].name for n in feeds)
                options.fetch.extend(sig.outputs[n].name for n in outputs)
                options.run_options.timeout_in_ms = int(TIMEOUT_S * 1000)
                # like TF Serving's C++ Session::Run: no Python-side shape check of the feeds
                self._callables[key] = self.session._make_callable_from_options(options)
            run = self._callables[key]
        try:
            values = run(*arrays)
        except tf.errors.OpError as error:
            raise status_of(error) from None
        return name, dict(zip(outputs, values))

    def close(self):
        self.session.close()


def checked_dtype(value, dtype, name):
    """``value`` as ``dtype``'s NumPy type; a value of another kind (float for int, ...) is INVALID_ARGUMENT."""
    array = np.asarray(value)
    want = np.dtype(dtype.as_numpy_dtype)
    if array.dtype == want:
        return array
    if array.size == 0 and array.dtype != object:  # JSON [] has no element type
        return array.astype(want)
    if array.dtype == object:
        raise Status("INVALID_ARGUMENT", f"input {name}: ragged or non-numeric value")
    ok = (want.kind == array.dtype.kind or (want.kind == "f" and array.dtype.kind in "iu")
          or (want.kind in "iu" and array.dtype.kind in "iu"))
    if not ok:
        raise Status("INVALID_ARGUMENT", f"input {name}: expects {dtype.name} but got {array.dtype.name}")
    if want.kind in "iu" and array.size:
        info = np.iinfo(want)
        if array.min() < info.min or array.max() > info.max:
            raise Status("INVALID_ARGUMENT", f"input {name}: value out of range of {dtype.name}")
    return array.astype(want)


class Model:
    """A TF Serving ``base_path``: numbered version folders, each a SavedModel; the newest serves by default."""

    def __init__(self, name, base_path):
        self.name = name
        versions = sorted(int(v) for v in os.listdir(base_path) if v.isdigit())
        if not versions:
            raise ValueError(f"no numbered version folders in {base_path!r} (TF Serving's <base_path>/<version>)")
        self.versions = {v: LoadedVersion(os.path.join(base_path, str(v))) for v in versions}

    def version(self, version=None):
        chosen = max(self.versions) if version is None else int(version)
        if chosen not in self.versions:
            spec = "Latest" if version is None else f"Specific({self.name}, {version})"
            raise Status("NOT_FOUND", f"Servable not found for request: {spec}")
        return chosen, self.versions[chosen]


# ------------------------------------------------------------------ JSON formats
def parse_json_request(body, sig):
    """TF Serving's REST predict body -> ("row" | "columnar", {input: array})."""
    if not isinstance(body, dict):
        raise Status("INVALID_ARGUMENT", "JSON Value: request body is not an object")
    if "instances" in body and "inputs" in body:
        raise Status("INVALID_ARGUMENT", "Not both of 'instances' and 'inputs' can be specified")
    single = next(iter(sig.inputs)) if len(sig.inputs) == 1 else None
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise Status("INVALID_ARGUMENT", "'instances' must be a non-empty list")
        if all(isinstance(r, dict) for r in rows):
            keys = set(rows[0])
            for i, r in enumerate(rows):
                if set(r) != keys:
                    raise Status("INVALID_ARGUMENT", f"Failed to process element: {i} of 'instances' list. "
                                                     f"JSON object: has keys {sorted(r)}, expected {sorted(keys)}")
            return "row", {k: _array([r[k] for r in rows], k) for k in keys}
        if single is None:
            raise Status("INVALID_ARGUMENT", "'instances' of a signature with several inputs must be a list of "
                                             "objects, one per example")
        return "row", {single: _array(rows, single)}
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict):
            return "columnar", {k: _array(v, k) for k, v in inputs.items()}
        if single is None:
            raise Status("INVALID_ARGUMENT", "'inputs' of a signature with several inputs must be an object")
        return "columnar", {single: _array(inputs, single)}
    raise Status("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")


def _array(value, name):
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise Status("INVALID_ARGUMENT", f"input {name}: {error}") from None
    if array.dtype == object or array.dtype.kind in "US":
        raise Status("INVALID_ARGUMENT", f"input {name}: ragged or non-numeric JSON value")
    return array


def json_response(fmt, outputs):
    """{output: array} -> TF Serving's {"predictions": ...} (row) or {"outputs": ...} (columnar)."""
    if fmt == "columnar":
        values = {k: v.tolist() for k, v in outputs.items()}
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    sizes = {}
    for k, v in outputs.items():
        if v.ndim == 0:
            raise Status("INVALID_ARGUMENT", f"Tensor name: {k} has no shape information")
        sizes[k] = v.shape[0]
    if len(set(sizes.values())) > 1:
        first = next(iter(sizes))
        other = next(k for k in sizes if sizes[k] != sizes[first])
        raise Status("INVALID_ARGUMENT", f"Tensor name: {other} has inconsistent batch size: {sizes[other]} "
                                         f"expecting: {sizes[first]}")
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    count = next(iter(sizes.values()))
    lists = {k: v.tolist() for k, v in outputs.items()}
    return {"predictions": [{k: lists[k][i] for k in lists} for i in range(count)]}


# ------------------------------------------------------------------ the servers
_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<rest>:predict|/metadata)?$")


class StandInServer:
    """The STAND-IN for TF Serving: ``StandInServer({"pixelcnn": base_path})``; use as a context manager.

    ``rest_url`` (http://127.0.0.1:<port>) and ``grpc_target`` (127.0.0.1:<port>) say where
    it listens; ``log`` records (api, model, version, signature, format) of every predict
    request, newest last (at most ``LOG_SIZE``), so a test can check what a client sent.
    """

    LOG_SIZE = 256

    def __init__(self, models, grpc_api=True):
        self.models = {}
        try:
            for name, base_path in models.items():
                self.models[name] = Model(name, base_path)
        except Exception:
            self._close_models()
            raise
        self.log = []
        self._log_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="stand-in-rest", daemon=True)
        self._http_thread.start()
        self.rest_url = f"http://127.0.0.1:{self._http.server_port}"
        self._grpc, self.grpc_target = None, None
        if grpc_api:
            self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_CONCURRENT),
                                     maximum_concurrent_rpcs=MAX_CONCURRENT * 2,
                                     options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                                              ("grpc.max_send_message_length", MAX_REQUEST_BYTES)])
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Servicer(self), self._grpc)
            port = self._grpc.add_insecure_port("127.0.0.1:0")
            self._grpc.start()
            self.grpc_target = f"127.0.0.1:{port}"

    # -------------------------------------------------------------- shared
    def predict(self, api, name, version, signature, inputs, fmt, output_filter=()):
        """Run one request: (version served, signature name, {output: array}); raises Status."""
        if not self._slots.acquire(timeout=TIMEOUT_S):
            raise Status("RESOURCE_EXHAUSTED", f"more than {MAX_CONCURRENT} requests at once")
        try:
            served, loaded = self.model(name).version(version)
            with self._log_lock:
                self.log.append({"api": api, "model": name, "version": served,
                                 "signature": signature or "serving_default", "format": fmt})
                del self.log[:-self.LOG_SIZE]
            if callable(inputs):  # the JSON body is parsed against the signature it names
                inputs = inputs(loaded.signature(signature)[1])
            signature, outputs = loaded.run(signature, inputs, output_filter)
            return served, signature, outputs
        finally:
            self._slots.release()

    def model(self, name):
        if name not in self.models:
            raise Status("NOT_FOUND", f"Servable not found for request: Latest({name})")
        return self.models[name]

    def status(self, name, version=None):
        model = self.model(name)
        versions = sorted(model.versions, reverse=True) if version is None else [model.version(version)[0]]
        return {"model_version_status": [{"version": str(v), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}} for v in versions]}

    def signature_def_map(self, name, version=None):
        served, loaded = self.model(name).version(version)
        defs = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in loaded.signatures.items():
            defs.signature_def[key].CopyFrom(sig)
        return served, defs

    # -------------------------------------------------------------- lifetime
    def close(self):
        """Stop both servers (in-flight requests get up to 2 s) and close every Session."""
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http_thread.join(5)
            self._http = None
        self._close_models()

    def _close_models(self):
        for model in self.models.values():
            for loaded in model.versions.values():
                loaded.close()
        self.models = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _handler(server):
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = TIMEOUT_S  # socket reads; HTTP/1.0: one request per connection

        def do_GET(self):  # noqa: N802 - http.server naming
            match = _PATH.match(self.path)
            if not match or match["rest"] == ":predict":
                return self._reply(404, {"error": f"Malformed request: GET {self.path}"})
            try:
                if match["rest"] == "/metadata":
                    served, defs = server.signature_def_map(match["name"], match["version"])
                    answer = {"model_spec": {"name": match["name"], "signature_name": "", "version": str(served)},
                              "metadata": {"signature_def": json_format.MessageToDict(
                                  defs, preserving_proto_field_name=True)}}
                else:
                    answer = server.status(match["name"], match["version"])
            except Status as error:
                return self._reply(HTTP_STATUS[error.code], {"error": error.message})
            self._reply(200, answer)

        def do_POST(self):  # noqa: N802
            match = _PATH.match(self.path)
            if not match or match["rest"] != ":predict":
                return self._reply(404, {"error": f"Malformed request: POST {self.path}"})
            try:
                length = int(self.headers.get("Content-Length", "-1"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_REQUEST_BYTES:
                self.close_connection = True
                return self._reply(413 if length > 0 else 411,
                                   {"error": f"request body must have a Content-Length of at most "
                                             f"{MAX_REQUEST_BYTES} bytes"})
            try:
                body = json.loads(self.rfile.read(length))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                return self._reply(400, {"error": f"JSON Parse error: {error}"})
            signature = body.get("signature_name", "") if isinstance(body, dict) else ""
            parsed = {}

            def inputs(sig):
                parsed["format"], values = parse_json_request(body, sig)
                return values

            fmt = "row" if isinstance(body, dict) and "instances" in body else "columnar"
            try:
                _, _, outputs = server.predict("rest", match["name"], match["version"], signature, inputs, fmt)
                answer = json_response(parsed["format"], outputs)
            except Exception as error:  # noqa: BLE001 - every failure becomes TF Serving's {"error": ...}
                status = status_of(error)
                return self._reply(HTTP_STATUS.get(status.code, 500), {"error": status.message})
            self._reply(200, answer)

        def _reply(self, code, answer):
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, server):
        self.server = server

    def Predict(self, request, context):  # noqa: N802 - gRPC naming
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        try:
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as error:
                raise Status("INVALID_ARGUMENT", f"cannot read an input TensorProto: {error}") from None
            served, signature, outputs = self.server.predict("grpc", spec.name, version, spec.signature_name,
                                                             inputs, "grpc", tuple(request.output_filter))
        except Exception as error:  # noqa: BLE001
            status = status_of(error)
            context.abort(getattr(grpc.StatusCode, status.code, grpc.StatusCode.UNKNOWN), status.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = served
        response.model_spec.signature_name = signature
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field signature_def is the only one supported")
        try:
            served, defs = self.server.signature_def_map(spec.name, version)
        except Status as error:
            context.abort(getattr(grpc.StatusCode, error.code), error.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = served
        response.metadata["signature_def"].Pack(defs)
        return response


def main(argv=None):
    import argparse
    import time

    parser = argparse.ArgumentParser(description="A STAND-IN for TF Serving (tests only): REST + gRPC on 127.0.0.1")
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_base_path", required=True, help="folder of numbered SavedModel versions")
    args = parser.parse_args(argv)
    with StandInServer({args.model_name: args.model_base_path}) as server:
        print(f"stand-in for TF Serving: REST {server.rest_url}  gRPC {server.grpc_target}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

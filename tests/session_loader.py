"""Run a SavedModel's signatures the way TF Serving does: the session-based loader.

TF Serving's SavedModelBundle (and ``saved_model_cli run``) restore a SavedModel with
``tf.compat.v1.saved_model.loader.load`` into a Session, restoring variables through the
SavedModel's saver, and run a signature by feeding and fetching the tensor names in its
SignatureDef. ``tf.saved_model.load`` restores by object graph instead and does not meet
the problems of that path ("Could not find variable ...").

Feeds go through a callable made from CallableOptions, which, like TF Serving's C++
``Session::Run``, skips the Python-side shape check of ``Session.run``: a scalar input fed
a vector reaches the graph, as it would in the server.

This module imports TensorFlow and NumPy only, never tfar: the artifact must run where
tfar is not installed (run as a script, it answers requests read from .npz files in such a
process: :func:`serve_stdin`).
"""

import sys

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2


class SessionModel:
    """A SavedModel loaded by the session loader; ``run(signature, **inputs)`` -> {output: array}."""

    def __init__(self, export_dir, tags=("serve",)):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, list(tags), export_dir)
        # "__saved_model_init_op" is the loader's own entry (the init op), not a servable signature
        self.signatures = {k: v for k, v in meta_graph.signature_def.items() if not k.startswith("__")}
        self._callables = {}

    def inputs(self, signature):
        return sorted(self.signatures[signature].inputs)

    def outputs(self, signature):
        return sorted(self.signatures[signature].outputs)

    def run(self, signature, **inputs):
        sig = self.signatures[signature]
        names = sorted(inputs)
        unknown = set(names) - set(sig.inputs)
        if unknown:
            raise KeyError(f"signature {signature!r} has no inputs {sorted(unknown)}; it has {sorted(sig.inputs)}")
        key = (signature, tuple(names))
        if key not in self._callables:
            options = config_pb2.CallableOptions()
            options.feed.extend(sig.inputs[n].name for n in names)
            options.fetch.extend(sig.outputs[n].name for n in self.outputs(signature))
            self._callables[key] = self.session._make_callable_from_options(options)
        dtypes = {n: tf.as_dtype(sig.inputs[n].dtype).as_numpy_dtype for n in names}
        values = self._callables[key](*[np.asarray(inputs[n], dtypes[n]) for n in names])
        return dict(zip(self.outputs(signature), values))

    def close(self):
        self.session.close()


def run_requests(export_dir, requests):
    """{"<signature>/<input>": array} requests -> {"<signature>/<output>": array}."""
    model = SessionModel(export_dir)
    grouped = {}
    for key, value in requests.items():
        signature, name = key.split("/", 1)
        grouped.setdefault(signature, {})[name] = value
    results = {}
    for signature, inputs in grouped.items():
        for name, value in model.run(signature, **inputs).items():
            results[f"{signature}/{name}"] = value
    model.close()
    return results


def serve_stdin():
    """Answer lines "EXPORT_DIR REQUESTS.npz OUT.npz" from stdin, one at a time, until EOF.

    Writes "ok <tfar importable: True|False>" or "error <message>" per line, so one
    process (one TensorFlow import) serves many exported models.
    """
    for line in sys.stdin:
        export_dir, requests_path, out_path = line.rstrip("\n").split("\t")
        try:
            with np.load(requests_path) as data:
                requests = dict(data)
            np.savez(out_path, **run_requests(export_dir, requests))
            answer = f"ok tfar imported: {sys.modules.get('tfar') is not None}"
        except Exception as error:  # reported to the test, which fails with it
            answer = "error " + repr(error).replace("\n", " ")
        print(answer, flush=True)


if __name__ == "__main__":
    serve_stdin()

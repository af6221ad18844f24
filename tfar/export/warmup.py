"""TF Serving warmup requests: ``assets.extra/tf_serving_warmup_requests`` of a SavedModel.

TF Serving replays the ``PredictionLog`` records of this TFRecord file when it loads a
model version, before the version takes traffic, so the first real request does not
pay for graph optimisation and kernel set-up. tfar writes one small ``PredictLog``
per signature: a batch of one, one sample, the initial state of one example, and for
audio a few samples only. The protos are those of ``tensorflow-serving-api``.
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
AUDIO_WARMUP_LENGTH = 16  # samples in the warmup's audio log_prob and sample requests


def warmup_inputs(model, state_example, conditioning, audio_length=None, sample_length=True):
    """{signature: {input name: NumPy value}}: one small request per signature.

    ``state_example``: the flattened ``initial_state`` of one example (NumPy leaves);
    ``conditioning``: the conditioning inputs of one example ({"condition": [1]},
    {"features": [1, F, C]}, or {}); ``audio_length``: samples of the audio requests
    (None for images); ``sample_length``: whether ``sample`` takes a ``length``.
    """
    x_shape = [1, audio_length] if audio_length else [1, *model.event_shape]
    log_prob = {"x": np.zeros(x_shape, np.int32), **conditioning}
    sample = {"num_samples": np.int32(1), "seed": np.int32(0), "temperature": np.float32(1.0), **conditioning}
    if audio_length and sample_length:
        sample["length"] = np.int32(audio_length)
    return {
        "serving_default": log_prob,
        "log_prob": log_prob,
        "sample": sample,
        "initial_state": {"batch_size": np.int32(1), **conditioning},
        "step": {"x_prev": np.zeros([1, *model.position_shape], np.int32), **state_example},
    }


def prediction_log(signature, inputs):
    """A ``PredictionLog`` holding the PredictRequest of ``signature`` with ``inputs``."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup(export_dir, requests):
    """Write ``requests`` ({signature: inputs}) as the SavedModel's warmup file; return its path."""
    directory = os.path.join(export_dir, WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests.items():
            writer.write(prediction_log(signature, inputs).SerializeToString())
    return path


def read_warmup(path):
    """The ``PredictionLog`` records of a warmup file, in order."""
    from tensorflow_serving.apis import prediction_log_pb2

    logs = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs

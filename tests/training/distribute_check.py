"""Train every model class for 3 SGD steps on one device and on 2 mirrored replicas; print the gaps.

Run by tests/training/test_distribute.py in its own process, since the 2 logical CPU
devices must be configured before TensorFlow initialises its devices. Prints one JSON
line per model: {"model", "moved", "gap", "one_device_eval", "mirrored_eval",
"one_device_step_losses", "mirrored_step_losses", "one_device_setup", "mirrored_setup"}.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfar import models  # noqa: E402
from tfar.training import strategy as strategy_lib  # noqa: E402

IMAGE = (4, 4, 3)
TINY = {  # a class-conditional variant for two of them, to carry labels through the replicas too
    "PixelCNN": (models.PixelCNN, dict(image_shape=IMAGE, filters=6, num_residual_blocks=1, output_filters=6)),
    "GatedPixelCNN": (models.GatedPixelCNN, dict(image_shape=IMAGE, num_layers=2, filters=6, output_filters=6,
                                                 num_classes=3)),
    "PixelCNNPlusPlus": (models.PixelCNNPlusPlus, dict(image_shape=IMAGE, num_resnet=1, num_hierarchies=1,
                                                       num_filters=8, num_logistic_mix=2, dropout_p=0.0)),
    "RowLSTM": (models.RowLSTM, dict(image_shape=IMAGE, units=6, num_layers=1, output_filters=6)),
    "DiagonalBiLSTM": (models.DiagonalBiLSTM, dict(image_shape=IMAGE, units=6, num_layers=1, output_filters=6)),
    "WaveNet": (models.WaveNet, dict(num_stacks=1, layers_per_stack=2, residual_channels=4, dilation_channels=4,
                                     skip_channels=4, num_classes=2)),
    # float16 compute with the loss scale of a LossScaleOptimizer, under both strategies
    "PixelCNN mixed_float16": (models.PixelCNN, dict(image_shape=IMAGE, filters=6, num_residual_blocks=1,
                                                     output_filters=6, dtype="mixed_float16")),
}
# 11 examples in global batches of 4: 4, 4 and 3, so the last step splits 2 + 1 over the replicas
# (an empty replica batch trips a TensorFlow CPU bug: conv2d returns its input for a 0-size batch)
NUM_EXAMPLES, GLOBAL_BATCH, LEARNING_RATE = 11, 4, 0.1


def dataset(cls, config):
    rng = np.random.default_rng(0)
    event = [16] if cls is models.WaveNet else list(IMAGE)
    x = rng.integers(0, 256, size=[NUM_EXAMPLES, *event]).astype(np.int32)
    if config.get("num_classes"):
        labels = rng.integers(0, config["num_classes"], size=[NUM_EXAMPLES]).astype(np.int32)
        return tf.data.Dataset.from_tensor_slices((x, labels)).batch(GLOBAL_BATCH)
    return tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)


def train(strategy, cls, config, initial):
    with strategy.scope():
        model = cls(**config)
        model.build()
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    data = dataset(cls, config)
    batch_logs = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(logs["loss"]))
    steps = []
    model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[batch_logs])
    metrics = model.evaluate(data, verbose=0, return_dict=True)
    layers = [layer for layer in model._flatten_layers(include_self=False) if layer.weights]
    setup = {"optimizer": type(model.optimizer).__name__,
             "compute_dtypes": sorted({layer.compute_dtype for layer in layers})}
    weights = [w.numpy() for w in model.weights]
    return weights, {k: float(v) for k, v in metrics.items()}, [float(v) for v in steps], setup


def main(names):
    mirrored = strategy_lib.make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2, mirrored.num_replicas_in_sync
    one_device = strategy_lib.make_strategy("one_device")
    for name in names:
        cls, config = TINY[name]
        keras.utils.set_random_seed(0)
        reference = cls(**config)
        reference.build()
        initial = reference.get_weights()
        one, one_eval, one_steps, one_setup = train(one_device, cls, config, initial)
        two, two_eval, two_steps, two_setup = train(mirrored, cls, config, initial)
        record = {
            "model": name,
            "moved": max(float(np.abs(a - b).max()) for a, b in zip(one, initial)),
            "gap": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
            "one_device_eval": one_eval,
            "mirrored_eval": two_eval,
            "one_device_step_losses": one_steps,  # the running mean loss fit reports after each step
            "mirrored_step_losses": two_steps,
            "one_device_setup": one_setup,  # optimizer class, compute dtypes of the layers with weights
            "mirrored_setup": two_setup,
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(TINY))

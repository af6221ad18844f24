"""One worker of a 2-worker MultiWorkerMirroredStrategy run (TF_CONFIG set by the caller).

Trains a tiny zoo PixelCNN on 16 fixed examples in global batches of 4 with the
standard run-folder callbacks, the chief writing into RUN_DIR and the other worker
into a temporary folder. Prints JSON lines: {"event": "epoch_begin"|"epoch_end",
"epoch"} as it goes, then {"event": "done", "folder", "files"}; saves the final
weights to OUT (.npz). Used by tests/training/test_multi_worker.py.

    python multi_worker_train.py RUN_DIR OUT EPOCHS [SECONDS_PER_BATCH]
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NUM_EXAMPLES, GLOBAL_BATCH = 16, 4
TINY_PIXELCNN = dict(image_shape=[6, 6, 1], filters=4, num_residual_blocks=1, output_filters=4, kernel_size=3,
                     num_classes=None)


def build_model():
    """The tiny zoo PixelCNN, compiled (call inside the strategy's scope)."""
    from tfar import zoo

    keras.utils.set_random_seed(0)
    model = zoo.load("pixelcnn", pretrained=False, **TINY_PIXELCNN)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def dataset():
    x = np.random.default_rng(0).integers(0, 256, size=[NUM_EXAMPLES, 6, 6, 1]).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)


class Progress(keras.callbacks.Callback):
    """Print epoch events (flushed) and slow every batch down by ``delay`` seconds."""

    def __init__(self, delay):
        super().__init__()
        self.delay = delay

    def on_epoch_begin(self, epoch, logs=None):
        print(json.dumps({"event": "epoch_begin", "epoch": epoch}), flush=True)

    def on_epoch_end(self, epoch, logs=None):
        print(json.dumps({"event": "epoch_end", "epoch": epoch}), flush=True)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.delay)


def main(run_dir, out, epochs, delay=0.0):
    from tfar.training import make_callbacks
    from tfar.training import strategy as strategy_lib

    strategy = strategy_lib.make_strategy("multi_worker")
    with strategy.scope():
        model = build_model()
    with strategy_lib.worker_run_dir(run_dir, strategy) as folder:
        callbacks = make_callbacks(folder, monitor="loss", num_samples=2) + [Progress(delay)]
        model.fit(strategy_lib.shard(dataset()), epochs=epochs, callbacks=callbacks, verbose=0)
        files = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)
        print(json.dumps({"event": "done", "folder": folder, "files": files}), flush=True)
    np.savez(out, *[w.numpy() for w in model.weights])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)

"""CPU cost of one training step of the zoo's Gated PixelCNN and PixelCNN at their entry widths.

One process, one intra-op thread, a batch of 32 class-conditional 28x28 images; each step
function is traced and run once before 3 timed steps (process CPU time and wall time).

    python bench/train_step_cost.py
"""

import time

import keras
import numpy as np
import tensorflow as tf


def main():
    tf.config.threading.set_intra_op_parallelism_threads(1)
    from tfar.models import GatedPixelCNN, PixelCNN

    x = tf.constant(np.random.default_rng(0).integers(0, 256, (32, 28, 28, 1)), tf.int32)
    y = tf.constant(np.arange(32) % 10, tf.int32)
    models = {
        "gated_pixelcnn (filters=32, num_layers=10, output_filters=64)":
            GatedPixelCNN(filters=32, num_layers=10, output_filters=64, num_classes=10),
        "pixelcnn (filters=64, num_residual_blocks=5, output_filters=128)":
            PixelCNN(filters=64, num_residual_blocks=5, output_filters=128, num_classes=10),
    }
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.build()
        step = tf.function(lambda a, b, model=model: model.train_step((a, b)))
        step(x, y)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(3):
            step(x, y)
        print(f"{name}: {(time.process_time() - cpu) / 3:.2f} CPU s/step, "
              f"{(time.perf_counter() - wall) / 3:.2f} wall s/step", flush=True)


if __name__ == "__main__":
    main()

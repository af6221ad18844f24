"""PixelCNN++'s graphs pass through TF's graph optimiser (Grappler) without a failing pass.

A failing Grappler pass is only logged (an E-level line on stderr), and the graph then runs
without that pass's fusions. The bias add of the shifted convolutions once made the remapper
fail on the training graph ("remapper failed: INVALID_ARGUMENT: Mutation::Apply error"), so
this runs a training step and a log_prob in a fresh process and reads its stderr.
"""

import os
import subprocess
import sys

SCRIPT = r"""
import numpy as np, tensorflow as tf, keras
from tfar.models.pixelcnn_pp import PixelCNNPlusPlus
model = PixelCNNPlusPlus(image_shape=(8, 8, 1), num_filters=8, num_resnet=1, num_hierarchies=2,
                         num_logistic_mix=2, num_classes=3, dropout_p=0.1)
x = np.random.default_rng(0).integers(0, 256, [4, 8, 8, 1]).astype(np.int32)
y = np.arange(4, dtype=np.int32) % 3
print("log_prob", float(tf.reduce_mean(tf.function(lambda a, b: model.log_prob(a, b))(x, y))))
optimizer = keras.optimizers.Adam(1e-3)

@tf.function
def step(a, b):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(a, b, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

print("step", float(step(x, y)))
"""


def test_training_step_and_log_prob_graphs_have_no_failing_grappler_pass():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0")
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "log_prob" in done.stdout and "step" in done.stdout
    failures = [line for line in done.stderr.splitlines() if "meta_optimizer" in line and "failed" in line]
    assert not failures, "\n".join(failures)

"""Learning-rate schedules for ``tfar train``.

``ConstantThenCosine`` holds the learning rate, then anneals it along a half cosine
(Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017,
without the restarts):

    lr(t) = lr0                                                  t < s
    lr(t) = lr0 * (a + (1 - a) * (1 + cos(pi * min(t - s, D) / D)) / 2)   t >= s

with s the step the decay starts at, D its length and a the final fraction (``alpha``).
With s = 0 it is ``keras.optimizers.schedules.CosineDecay``. A positive s lets a run that
trained at a constant rate be annealed when it is resumed, without replaying its first steps.

``tfar train`` applies it with the ``CosineAnneal`` callback, which sets the optimizer's
learning-rate variable before every step, rather than by giving the optimizer the schedule:
an optimizer built with a schedule has no learning-rate variable, so its saved state has one
variable fewer than a constant-rate run's, and Keras skips loading an optimizer state whose
variables do not match (with a warning only). The step count, Adam's moments and the Polyak
averages of a constant-rate run would be lost exactly when it is resumed to be annealed.
"""

import math

import keras
from keras import ops

from tfar.arg_checks import positive_int


@keras.saving.register_keras_serializable(package="tfar")
class ConstantThenCosine(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate`` until step ``decay_start``, then a cosine decay over ``decay_steps`` to ``alpha`` of it.

    Args:
      learning_rate: lr0, a positive float.
      decay_start: s, the optimizer step the decay begins at (0: from the first step).
      decay_steps: D, the steps the decay takes; after s + D the rate stays at ``alpha * learning_rate``.
      alpha: a, the final fraction of ``learning_rate``, in [0, 1].
    """

    def __init__(self, learning_rate, decay_start, decay_steps, alpha=0.02):
        learning_rate = float(learning_rate)
        if not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        if isinstance(decay_start, bool) or not isinstance(decay_start, int) or decay_start < 0:
            raise ValueError(f"decay_start must be an int >= 0 (an optimizer step), got {decay_start!r}")
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] (the final fraction of the learning rate), got {alpha!r}")
        self.learning_rate = learning_rate
        self.decay_start = decay_start
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.alpha = alpha

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.decay_start) / self.decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        return self.learning_rate * (self.alpha + (1.0 - self.alpha) * cosine)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "decay_start": self.decay_start,
                "decay_steps": self.decay_steps, "alpha": self.alpha}


class CosineAnneal(keras.callbacks.Callback):
    """Set the optimizer's learning rate to ``schedule(optimizer.iterations)`` before every training step.

    Args:
      schedule: a :class:`ConstantThenCosine` (any callable of the step works).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        optimizer.learning_rate.assign(self.schedule(optimizer.iterations))


__all__ = ["ConstantThenCosine", "CosineAnneal"]

"""Polyak averaging for evaluation and checkpoints (Polyak and Juditsky 1992; used by PixelCNN++,
Salimans et al. 2017, sec. 3).

With ``use_ema=True`` a Keras optimizer keeps ``a <- m a + (1 - m) w`` for every weight
after each step. The average, not the last iterate, is what a run should validate,
sample from and ship. ``PolyakAveraging`` swaps the averages into the model

- for validation (``on_test_begin`` .. ``on_test_end``), and
- for the epoch-end callbacks between its two halves (checkpoints, sample grids),

and swaps the training weights back before anything that saves training state
(``BackupAndRestore``) or trains on. So the backup always holds the training weights
and the averages in their own slots, and a resumed run continues exactly.

    averaging = PolyakAveraging()
    callbacks = [averaging.swap_in, *checkpoints_and_samples, averaging.swap_out, backup]
"""

import keras


def _optimizer_with_averages(model):
    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False):
        raise ValueError("PolyakAveraging needs an optimizer built with use_ema=True")
    if not hasattr(optimizer, "_model_variables_moving_average"):
        optimizer.build(model.trainable_variables)
    return optimizer


class _Half(keras.callbacks.Callback):
    def __init__(self, owner, swap_in):
        super().__init__()
        self.owner, self.is_swap_in = owner, swap_in

    def on_test_begin(self, logs=None):
        if self.is_swap_in:
            self.owner.use_averages(self.model)

    def on_test_end(self, logs=None):
        if self.is_swap_in:
            self.owner.use_training_weights(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if self.is_swap_in:
            self.owner.use_averages(self.model)
        else:
            self.owner.use_training_weights(self.model)


class PolyakAveraging:
    """Two callbacks, ``swap_in`` (first) and ``swap_out`` (before the backup), around the epoch-end work."""

    def __init__(self):
        self.averages_in_model = False
        self.swap_in = _Half(self, swap_in=True)
        self.swap_out = _Half(self, swap_in=False)

    def _swap(self, model):
        optimizer = _optimizer_with_averages(model)
        for weight, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
            held = keras.ops.convert_to_numpy(weight)  # a copy: the variable is overwritten next
            weight.assign(average)
            average.assign(held)
        self.averages_in_model = not self.averages_in_model

    def use_averages(self, model):
        if not self.averages_in_model:
            self._swap(model)

    def use_training_weights(self, model):
        if self.averages_in_model:
            self._swap(model)


__all__ = ["PolyakAveraging"]

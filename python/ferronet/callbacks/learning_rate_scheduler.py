"""`LearningRateScheduler`: set the learning rate from a function of the epoch at each epoch start."""

import numpy as np

from ferronet.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """At each epoch start, set `model.optimizer.learning_rate = schedule(epoch, lr)`.

    `schedule(epoch)` (one argument) is accepted too, as in Keras. Each epoch end records the rate as
    `logs["learning_rate"]`. An optimizer built with a `LearningRateSchedule` refuses a float rate,
    so this callback raises Keras's TypeError there: use one or the other.

    Args:
        schedule: a function `(epoch, lr) -> float` (epoch 0-based).
        verbose: 1 prints each new rate. Default 0.

    Example:
    >>> import ferronet as fn
    >>> cb = fn.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    >>> cb.schedule(1, 0.1)
    0.05
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the one-argument form `schedule(epoch)`
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = float(learning_rate)
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = self._update_optimizer_lr(self.model.optimizer, epoch)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)

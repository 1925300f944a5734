"""`EarlyStopping`: stop training when a monitored quantity stops improving (Keras 3 semantics)."""

import warnings

import numpy as np

from ferronet.callbacks.monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop `fit` once `monitor` has not improved for `patience` epochs.

    Args:
        monitor: the log key to watch. Default "val_loss".
        min_delta: changes smaller than this are not improvements. Default 0.
        patience: epochs without improvement before stopping. Default 0.
        verbose: 1 prints "Epoch N: early stopping" and the restore message. Default 0.
        mode: "auto", "min" or "max". Default "auto" (loss-like down, accuracy-like up).
        baseline: a value to beat; until some epoch beats it, `wait` is never reset. Default None.
        restore_best_weights: at the end of training, load the weights of the best epoch (whether or
            not training stopped early, as Keras 3 does). Default False.
        start_from_epoch: epochs to ignore before watching. Default 0.

    Example:
    >>> import ferronet as fn
    >>> stop = fn.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> (stop.patience, stop.restore_best_weights)
    (3, True)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, None, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # Reusable across fits and models (Keras issue #20256): forget the previous run's best.
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.best = None if self.monitor_op is None else self._initial_best()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # here, once the model's metrics are known
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self._weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _weights(self):
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs)}", stacklevel=2)
        return value

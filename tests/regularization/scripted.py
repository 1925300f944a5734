"""Test doubles for callbacks: a callback that scripts log values (callbacks run in list order,
so it goes before the one under test), a weight recorder, and a stand-in model for driving
callbacks directly, as Keras's own callback tests do."""

import numpy as np

import ferronet as fn


class ScriptedLogs(fn.callbacks.Callback):
    """Overwrites `logs[key]` with `values[epoch]` at each epoch end."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = list(values), key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = float(self.values[epoch])


class WeightRecorder(fn.callbacks.Callback):
    """Keeps a copy of the model's weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


class FakeModel:
    """Just what the callbacks touch: weights (an int per epoch), an optimizer and stop_training."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.weights = -1
        self.optimizer = fn.optimizers.SGD(learning_rate)

    def get_weights(self):
        return [np.array(self.weights)]

    def set_weights(self, weights):
        self.weights = int(weights[0])


def drive(callback, values, key="val_loss", model=None):
    """Run `callback` over scripted epoch logs until it stops training; returns epochs run."""
    callback.set_model(model or FakeModel())
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        epochs += 1
        callback.model.weights = epoch
        callback.on_epoch_end(epoch, {key: value})
        if callback.model.stop_training:
            break
    callback.on_train_end()
    return epochs

"""`History`: the per-epoch logs `fit` returns."""

from ferronet.callbacks.callback import Callback


class History(Callback):
    """Records each epoch's logs in `.history` (key -> list of floats) and `.epoch`.

    `gap(metric="loss")` gives the train-validation gap per epoch (`val_<metric> - <metric>`).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self

    def gap(self, metric="loss"):
        """Per-epoch `val_<metric> - <metric>`: how far validation trails training."""
        if metric not in self.history or f"val_{metric}" not in self.history:
            raise ValueError(f"History.gap: expected '{metric}' and 'val_{metric}' in the history, got keys {sorted(self.history)}")
        return [v - t for t, v in zip(self.history[metric], self.history[f"val_{metric}"])]

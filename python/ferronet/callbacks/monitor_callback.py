"""`MonitorCallback`: the shared "is this epoch an improvement?" logic of `EarlyStopping` and
`ReduceLROnPlateau` (Keras's `callbacks/monitor_callback.py`)."""

import operator
import warnings

from ferronet.callbacks.callback import Callback

# mode="auto" for names no compiled metric claims: Keras's `_direction` of its built-in metrics.
_UP = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou")
_DOWN = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge", "divergence", "poisson", "cosh")


def metric_direction(model, name):
    """"up", "down" or None for the logged quantity `name` ("val_" prefix ignored)."""
    name = name[4:] if name.startswith("val_") else name
    if name == "loss":
        return "down"
    for metric_name, metric in getattr(model, "_resolved_metrics", None) or []:
        if metric_name == name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    if any(word in name for word in _UP):
        return "up"
    if any(word in name for word in _DOWN):
        return "down"
    return None


class MonitorCallback(Callback):
    """Base for callbacks watching one logged quantity; not meant to be used directly.

    Args:
        monitor: the log key to watch. Default "val_loss".
        mode: "min", "max" or "auto" (from the name: accuracy-like up, loss-like down).
        baseline: the initial best value, or None. Default None.
        min_delta: the smallest change that counts as an improvement. Default 0.

    Example:
    >>> from ferronet.callbacks.monitor_callback import metric_direction
    >>> names = ("val_loss", "val_accuracy", "val_foo")
    >>> [metric_direction(None, name) for name in names]
    ['down', 'up', None]
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Pick `operator.lt` or `operator.gt` once the model's metrics are known (first epoch end)."""
        direction = {"min": "down", "max": "up"}.get(self.mode) or metric_direction(self.model, self.monitor)
        if direction is None:
            raise ValueError(f"{type(self).__name__} callback received monitor={self.monitor}, but Keras isn't able to "
                             "automatically determine whether that metric should be maximized or minimized. Pass "
                             "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` "
                             "in order to use the lowest value.")
        self.monitor_op = operator.lt if direction == "down" else operator.gt
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)
        if self.best is None:
            self.best = self._initial_best()

    def _initial_best(self):
        return float("inf") if self.monitor_op is operator.lt else -float("inf")

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return self.monitor_op(monitor_value - self.min_delta, reference_value)

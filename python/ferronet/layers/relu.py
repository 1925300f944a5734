"""ReLU with Keras's max_value, negative_slope and threshold."""

from ferronet import _core
from ferronet.layers.layer import Layer


class ReLU(Layer):
    """`max_value` above it, `x` from `threshold` up, `negative_slope * (x - threshold)` below.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.ReLU(max_value=1.0)(fn.tensor([[-1.0, 0.5, 3.0]])).numpy().tolist()
    [[0.0, 0.5, 1.0]]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: expected max_value >= 0, got max_value={max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"ReLU: expected negative_slope >= 0, got negative_slope={negative_slope}")
        if threshold is None:
            raise ValueError("ReLU: expected a threshold, got threshold=None")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def _make_engine_layer(self):
        cfg = {"max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}
        return _core.Layer.activation(self.name, "relu", cfg)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}

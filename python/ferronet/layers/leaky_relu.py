"""LeakyReLU (Keras layer default negative_slope=0.3; the function's default is 0.2)."""

import math

from ferronet import _core
from ferronet.layers.layer import Layer


class LeakyReLU(Layer):
    """`x` for x >= 0, `negative_slope * x` below.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.LeakyReLU(negative_slope=0.5)(fn.tensor([[-1.0, 2.0]])).numpy().tolist()
    [[-0.5, 2.0]]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        kwargs.pop("alpha", None)
        super().__init__(**kwargs)
        if negative_slope is None or not math.isfinite(negative_slope) or negative_slope < 0:
            raise ValueError(f"LeakyReLU: expected a finite negative_slope >= 0, got negative_slope={negative_slope}")
        self.negative_slope = negative_slope

    def _make_engine_layer(self):
        return _core.Layer.activation(self.name, "leaky_relu", {"negative_slope": self.negative_slope})

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}

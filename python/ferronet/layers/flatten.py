"""Flatten: each sample to one axis (channels_first inputs are moved to channels_last first)."""

import math

from ferronet import _core
from ferronet.layers.layer import Layer


class Flatten(Layer):
    """`(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Flatten()(fn.tensor([[[1.0, 2.0], [3.0, 4.0]]])).shape
    (1, 4)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: expected data_format channels_last or channels_first, got {data_format!r}")
        self.data_format = data_format or "channels_last"

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def _make_engine_layer(self):
        return _core.Layer.reshape(self.name, [-1], self.data_format == "channels_first")

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

"""Reshape: each sample to `target_shape` (one entry may be -1)."""

import math

from ferronet import _core
from ferronet.layers.layer import Layer


class Reshape(Layer):
    """Reshape each sample; the batch axis is kept.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Reshape((2, 2))(fn.tensor([[1.0, 2.0, 3.0, 4.0]])).shape
    (1, 2, 2)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target = tuple(target_shape)
        if sum(d == -1 for d in target) > 1 or any(not isinstance(d, int) or (d <= 0 and d != -1) for d in target):
            raise ValueError(f"Reshape: expected positive ints and at most one -1, got target_shape={target_shape!r}")
        self.target_shape = target

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and math.prod(rest) != math.prod(self.target_shape):
                raise ValueError(f"{self.name}: cannot reshape samples of shape {tuple(rest)} to {self.target_shape}")
            return (input_shape[0],) + self.target_shape
        if None in rest:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if math.prod(rest) % known:
            raise ValueError(f"{self.name}: cannot reshape samples of shape {tuple(rest)} to {self.target_shape}")
        return (input_shape[0],) + tuple(math.prod(rest) // known if d == -1 else d for d in self.target_shape)

    def _make_engine_layer(self):
        return _core.Layer.reshape(self.name, list(self.target_shape), False)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}

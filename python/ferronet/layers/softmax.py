"""Softmax over an axis."""

from ferronet import _core
from ferronet.layers.layer import Layer


class Softmax(Layer):
    """Softmax along `axis` (default -1).

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Softmax()(fn.tensor([[0.0, 0.0]])).numpy().tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"Softmax: expected an int axis, got axis={axis!r}")
        self.axis = axis

    def _make_engine_layer(self):
        return _core.Layer.activation(self.name, "softmax", {"axis": self.axis})

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

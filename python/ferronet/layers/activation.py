"""Activation: apply an activation function by name."""

from ferronet import _core, activations
from ferronet.layers.layer import Layer


class Activation(Layer):
    """Applies an activation function.

    Args:
        activation: a name (`"relu"`, `"softmax"`, ...) or a function of `ferronet.activations`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Activation("relu")(fn.tensor([[-1.0, 2.0]])).numpy().tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._activation_name = activations.serialize(self.activation)

    def _make_engine_layer(self):
        return _core.Layer.activation(self.name, self._activation_name, {})

    def get_config(self):
        return {**super().get_config(), "activation": self._activation_name}

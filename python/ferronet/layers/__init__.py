"""Keras layers, one per file."""

from ferronet.layers.activation import Activation
from ferronet.layers.dense import Dense
from ferronet.layers.elu import ELU
from ferronet.layers.input_layer import Input, InputLayer
from ferronet.layers.layer import Layer
from ferronet.layers.leaky_relu import LeakyReLU
from ferronet.layers.relu import ReLU
from ferronet.layers.softmax import Softmax

__all__ = ["Activation", "Dense", "ELU", "Input", "InputLayer", "Layer", "LeakyReLU", "ReLU", "Softmax"]

_REGISTRY = {cls.__name__: cls for cls in (Activation, Dense, ELU, InputLayer, LeakyReLU, ReLU, Softmax)}


def get_layer_class(class_name):
    """The layer class registered under `class_name` (a closed registry: no arbitrary imports)."""
    if class_name not in _REGISTRY:
        raise ValueError(f"layers: unknown layer class {class_name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[class_name]

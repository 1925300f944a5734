"""Keras layers, one per file."""

from ferronet.layers.activation import Activation
from ferronet.layers.batch_normalization import BatchNormalization
from ferronet.layers.dense import Dense
from ferronet.layers.dropout import Dropout
from ferronet.layers.elu import ELU
from ferronet.layers.flatten import Flatten
from ferronet.layers.gaussian_dropout import GaussianDropout
from ferronet.layers.gaussian_noise import GaussianNoise
from ferronet.layers.input_layer import Input, InputLayer
from ferronet.layers.layer import Layer
from ferronet.layers.layer_normalization import LayerNormalization
from ferronet.layers.leaky_relu import LeakyReLU
from ferronet.layers.relu import ReLU
from ferronet.layers.reshape import Reshape
from ferronet.layers.softmax import Softmax

_CLASSES = (Activation, BatchNormalization, Dense, Dropout, ELU, Flatten, GaussianDropout, GaussianNoise, InputLayer,
            LayerNormalization, LeakyReLU, ReLU, Reshape, Softmax)
__all__ = ["Input", "Layer"] + [cls.__name__ for cls in _CLASSES]

_REGISTRY = {cls.__name__: cls for cls in _CLASSES}


def get_layer_class(class_name):
    """The layer class registered under `class_name` (a closed registry: no arbitrary imports)."""
    if class_name not in _REGISTRY:
        raise ValueError(f"layers: unknown layer class {class_name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[class_name]

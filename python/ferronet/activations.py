"""Activation functions by Keras name. Each takes and returns tensors (or array-likes).

Example:
>>> import ferronet as fn
>>> fn.activations.hard_sigmoid(fn.tensor([0.0])).numpy().tolist()
[0.5]
"""

from ferronet import _core


def linear(x):
    return _core.multiply(x, 1.0)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _core.relu(x)
    from ferronet.layers.relu import ReLU

    return ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)(x)


def relu6(x):
    return relu(x, max_value=6.0)


def sigmoid(x):
    return _core.sigmoid(x)


def tanh(x):
    return _core.tanh(x)


def softmax(x, axis=-1):
    return _core.softmax(x, axis)


def log_softmax(x, axis=-1):
    return _core.log_softmax(x, axis)


def leaky_relu(x, negative_slope=0.2):
    return _core.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return _core.elu(x, alpha)


def selu(x):
    return _core.selu(x)


def gelu(x, approximate=False):
    return _core.gelu(x, approximate)


def softplus(x):
    return _core.softplus(x)


def silu(x):
    return _core.silu(x)


swish = silu


def hard_sigmoid(x):
    return _core.hard_sigmoid(x)


_FUNCTIONS = {
    "linear": linear, "relu": relu, "relu6": relu6, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "leaky_relu": leaky_relu, "elu": elu, "selu": selu, "gelu": gelu,
    "softplus": softplus, "silu": silu, "swish": silu, "hard_sigmoid": hard_sigmoid,
}
# What the engine's fused layers understand directly.
ENGINE_NAMES = {"linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "selu", "gelu", "softplus", "silu", "swish", "hard_sigmoid"}


def get(identifier):
    """The activation function for a name, None (linear) or a function of this module."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _FUNCTIONS:
            raise ValueError(f"activations: unknown activation {identifier!r}; known: {sorted(_FUNCTIONS)}")
        return _FUNCTIONS[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"activations: could not interpret activation {identifier!r}")


def serialize(activation):
    """The Keras name of an activation function of this module."""
    for name, fn in _FUNCTIONS.items():
        if fn is activation:
            return "silu" if name == "swish" else name
    raise ValueError(f"activations: {activation!r} is not a ferronet activation; the engine runs only built-in activations ({sorted(ENGINE_NAMES)})")

"""The closed set of classes a saved file may name, and where each layer's weights live in a
Keras weights file. Adding a layer class to ferronet's interchange is one entry here at most.

A file names classes as strings; the loader looks them up in `ferronet.layers`' registry and in
the classes the user registered. It never imports a module or evaluates anything the file says.
"""

from ferronet import layers as layers_module
from ferronet.errors import FileFormatError
from ferronet.layers.layer import Layer

_CUSTOM = {}


def register_keras_serializable(package="Custom", name=None):
    """Register a `Layer` subclass so files can name it (as Keras's decorator of that name).

    Files name it `"package>Name"`. Loading such a file still needs `safe_mode=False`, because
    building the layer runs the class's own code.

    Example:
    >>> import ferronet as fn
    >>> @fn.saving.register_keras_serializable(package="demo")
    ... class Twice(fn.layers.Layer): pass
    """

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"register_keras_serializable: expected a ferronet Layer subclass, got {cls!r}")
        key = f"{package}>{name or cls.__name__}"
        _CUSTOM[key] = cls
        cls._registered_name = key
        return cls

    return decorate


def layer_class(entry, safe_mode, custom_objects, where):
    """The class for a serialized layer `entry` ({"class_name", "registered_name", ...})."""
    class_name = entry.get("class_name")
    registered = entry.get("registered_name")
    if not isinstance(class_name, str):
        raise FileFormatError(f"{where}: expected a string class_name, got {class_name!r:.100}")
    if registered is not None and not isinstance(registered, str):
        raise FileFormatError(f"{where}: expected a string or null registered_name, got {registered!r:.100}")
    custom = {**_CUSTOM, **(custom_objects or {})}
    user_class = custom.get(registered) or custom.get(class_name)
    if class_name == "Lambda" or _holds_code(entry.get("config")):
        if safe_mode or user_class is None:
            raise FileFormatError(f"{where}: a {class_name} layer holds Python code, which ferronet never loads from a file "
                                  "(safe_mode=True); register your own class under this name and pass safe_mode=False to rebuild it")
    if user_class is not None and class_name not in layers_module._REGISTRY:
        if safe_mode:
            raise FileFormatError(f"{where}: the custom class {registered or class_name!r} runs your code when built; "
                                  "pass safe_mode=False to load it")
        return user_class
    if registered not in (None, class_name) and user_class is None:
        raise FileFormatError(f"{where}: unknown registered class {registered!r}; register it with "
                              "ferronet.saving.register_keras_serializable and pass safe_mode=False")
    if class_name not in layers_module._REGISTRY:
        raise FileFormatError(f"{where}: unknown layer class {class_name!r}; ferronet knows {sorted(layers_module._REGISTRY)}")
    return layers_module._REGISTRY[class_name]


def _holds_code(value):
    """Keras writes lambdas as {"class_name": "__lambda__", ...} (marshalled bytecode)."""
    if isinstance(value, dict):
        return value.get("class_name") == "__lambda__" or any(_holds_code(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_code(v) for v in value)
    return False


# ---- where weights live ------------------------------------------------------------------------
# A layer's weights as groups: (path inside the layer's Keras h5 group, [(name, Tensor), ...]).
# Keras writes each object's own variables under "<path>/vars/0, 1, ..." in creation order, and
# visits sub-objects by attribute name (an RNN's `cell`, Bidirectional's `forward_layer`).

def own_weights(layer):
    """A layer's weights in creation order (Keras's h5 order; BatchNormalization's moving
    statistics included, after gamma and beta)."""
    return [(name, tensor) for name, tensor, _ in layer._weights]


def _rnn_weights(layer):
    # An RNN layer may keep its weights itself or on a `cell` object; Keras writes them on the cell.
    cell = getattr(layer, "cell", None)
    return own_weights(cell) if cell is not None and hasattr(cell, "_weights") else own_weights(layer)


def _plain(layer):
    return [("vars", own_weights(layer))]


def _recurrent(layer):
    return [("vars", []), ("cell/vars", _rnn_weights(layer))]


def _wrapping(*attributes):
    """A wrapper layer: its own (empty) vars, then each wrapped layer's groups under its attribute."""
    def layout(layer):
        groups = [("vars", [])]
        for attribute in attributes:
            groups += [(f"{attribute}/{path}", weights) for path, weights in weight_groups(getattr(layer, attribute))]
        return groups
    return layout


WEIGHT_LAYOUT = {"SimpleRNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent,
                 "Bidirectional": _wrapping("forward_layer", "backward_layer"), "TimeDistributed": _wrapping("layer")}


def weight_groups(layer):
    """[(h5 sub-path, [(name, Tensor), ...]), ...] for `layer` (the plain layout by default)."""
    return WEIGHT_LAYOUT.get(type(layer).__name__, _plain)(layer)


def named_weights(model):
    """[(key, Tensor), ...] for every weight of `model`, keys unique: `dense/kernel`,
    `lstm/cell/kernel`, `bidirectional/forward_layer/cell/bias` (the native file's tensor names)."""
    out = []
    for layer in model.layers:
        for path, weights in weight_groups(layer):
            prefix = layer.name + "/" + path[: -len("vars")]
            seen = set()
            for i, (name, tensor) in enumerate(weights):
                key = prefix + name if name not in seen else f"{prefix}{name}_{i}"
                seen.add(name)
                out.append((key, tensor))
    return out

"""save / load by file name: `.ferronet` (native) and `.keras` (Keras 3) models,
`.weights.safetensors` and `.weights.h5` weights. Every write is atomic (`atomic.atomic_write`)."""

import os

from ferronet.errors import FileFormatError
from ferronet.saving import json_io, keras_file, keras_h5, native, serialization, weights
from ferronet.saving.atomic import atomic_write

_MODEL_FORMATS = {".ferronet": native, ".keras": keras_file}


def _model_format(path, what):
    for ext, module in _MODEL_FORMATS.items():
        if path.endswith(ext):
            return module
    raise ValueError(f"{what}: expected a file name ending in .ferronet (ferronet's format, with optimizer state) or .keras "
                     f"(Keras 3), got {path!r}")


def _check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path!r} exists and overwrite=False")


def save_model(model, filepath, overwrite=True, **kwargs):
    """Save architecture, weights and compile settings (and, for `.ferronet`, the optimizer's
    state) to `filepath`, atomically.

    Example:
    >>> import os, tempfile, ferronet as fn
    >>> m = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.ferronet"); m.save(path)
    """
    if kwargs.pop("zipped", None) is False:
        raise NotImplementedError("save: zipped=False (a folder instead of a file) is not supported")
    if kwargs:
        raise TypeError(f"save: unexpected keyword arguments {sorted(kwargs)}")
    path = os.fspath(filepath)
    module = _model_format(path, "save")
    _check_overwrite(path, overwrite)
    atomic_write(path, module.dump(model))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in a `.ferronet` or `.keras` file. Nothing in the file is executed: layer
    classes come from ferronet's registry (custom ones only with `safe_mode=False` once registered
    with `register_keras_serializable` or passed in `custom_objects`), and every malformed input
    raises `ferronet.errors.FileFormatError` (a ValueError) before anything large is allocated.

    Example:
    >>> import os, tempfile, ferronet as fn
    >>> m = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)]); path = os.path.join(tempfile.mkdtemp(), "m.ferronet"); m.save(path)
    >>> fn.models.load_model(path).output_shape
    (None, 2)
    """
    path = os.fspath(filepath)
    module = _model_format(path, "load_model")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_model: no such file: {path!r}")
    return module.load(path, safe_mode=safe_mode, custom_objects=custom_objects, compile=compile)


def save_weights(model, filepath, overwrite=True):
    """Save the weights only: `*.weights.safetensors` (ferronet) or `*.weights.h5` (Keras)."""
    path = os.fspath(filepath)
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(f"{model.name}: save_weights needs a built model")
    if path.endswith(".weights.safetensors"):
        atomic_write(path, weights.dump_weights(model))
    elif path.endswith(".weights.h5"):
        atomic_write(path, keras_h5.dump(model))
    else:
        raise ValueError(f"save_weights: expected a file name ending in .weights.safetensors or .weights.h5, got {path!r}")


def load_weights(model, filepath, skip_mismatch=False):
    """Load weights saved by `save_weights` (or Keras's `*.weights.h5`) into a built model; names
    and shapes must fit the model exactly, and nothing is assigned unless all of them do."""
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported")
    path = os.fspath(filepath)
    if not model.built:
        raise ValueError(f"{model.name}: load_weights needs a built model (give it an Input or call build first)")
    if not path.endswith((".weights.safetensors", ".weights.h5")):
        raise ValueError(f"load_weights: expected a file name ending in .weights.safetensors or .weights.h5, got {path!r}")
    limit = weights.expected_size(model) * (4 if path.endswith(".h5") else 1) + (1 << 20)
    size = os.path.getsize(path)
    if size > limit:
        raise FileFormatError(f"{path}: expected at most {limit} bytes for the weights of {model.name}, got {size}")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if path.endswith(".safetensors"):
        weights.load_weights(model, data, path)
    else:
        keras_h5.load(model, data, path)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """The (uncompiled, freshly initialised) model a `to_json()` string describes (at most 2**28
    weight values: a JSON string may come from anywhere)."""
    data = json_string.encode("utf-8") if isinstance(json_string, str) else bytes(json_string)
    return serialization.deserialize_model(json_io.loads(data, "model_from_json"), safe_mode, custom_objects, compile=False,
                                           where="model_from_json")


def clone_model(model):
    """A new model with the same architecture and fresh weights (as Keras's `clone_model`: each
    layer rebuilt by its own class from its config, so unregistered custom layers clone too)."""
    from ferronet.models.sequential import Sequential

    clone = Sequential(name=model.name, trainable=model.trainable)
    if model._input_layer is not None:
        clone.add(type(model._input_layer).from_config(model._input_layer.get_config()), rebuild=False)
    for layer in model.layers:
        clone.add(type(layer).from_config(layer.get_config()), rebuild=False)
    if model._input_shape is not None:
        clone.build((None, *model._input_shape))
    return clone

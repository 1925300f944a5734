"""Models as Keras 3 config dicts (the `config.json` of `.keras` and `.ferronet` files, `to_json`,
`get_config`) and back. Configs are data: classes come from `registry`, values are checked by
each class's own `from_config`, and every failure is a `FileFormatError` naming the layer."""

import math

from ferronet import losses, optimizers
from ferronet._budget import weight_budget
from ferronet.errors import FileFormatError
from ferronet.saving import registry

# Keras options that ferronet does not have, with the value that means "off". A file that uses
# one of them with any other value is refused; with this value the key is dropped.
NEUTRAL_KERAS_OPTIONS = {
    "quantization_config": None, "lora_rank": None, "lora_alpha": None,           # Dense, Embedding
    "rms_scaling": False,                                                         # LayerNormalization
    "synchronized": False, "renorm": False, "renorm_clipping": None,              # BatchNormalization
    "renorm_momentum": None,  # only meaningful with renorm; any value is dropped (see _clean)
    "optional": False, "ragged": False,                                           # InputLayer
    "input_axes": None, "output_axes": None,                                      # initializers (3.12+)
    "shared_object_id": None,                                                     # Keras bookkeeping
}
_ANY_VALUE = {"renorm_momentum", "shared_object_id"}


def _clean(value, where):
    """A Keras config tree in the form ferronet's `from_config` methods take: float32 dtype
    policies become "float32", neutral Keras-only options are dropped, others refused."""
    if isinstance(value, list):
        return [_clean(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if not isinstance(key, str):
            raise FileFormatError(f"{where}: expected string keys, got {key!r}")
        if key in NEUTRAL_KERAS_OPTIONS:
            if key in _ANY_VALUE or v == NEUTRAL_KERAS_OPTIONS[key]:
                continue
            raise FileFormatError(f"{where}: the Keras option {key}={v!r} is not supported by ferronet")
        if key == "dtype" and isinstance(v, dict):
            name = (v.get("config") or {}).get("name")
            if name != "float32":
                raise FileFormatError(f"{where}: expected dtype policy float32, got {name!r}")
            v = "float32"
        out[key] = _clean(v, where)
    return out


# ---- layers ----------------------------------------------------------------------------------
def serialize_layer(layer, input_shape=None):
    """One layer in Keras's `{module, class_name, config, registered_name, build_config}` form."""
    entry = {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
             "registered_name": getattr(type(layer), "_registered_name", None)}
    if input_shape is not None:
        entry["build_config"] = {"input_shape": list(input_shape)}
    return entry


def deserialize_layer(entry, safe_mode=True, custom_objects=None, where="layer"):
    """A layer from its serialized form (see `serialize_layer`)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        raise FileFormatError(f"{where}: expected {{class_name, config}}, got {_short(entry)}")
    cls = registry.layer_class(entry, safe_mode, custom_objects, where)
    config = _clean(entry.get("config", {}), f"{where} ({entry['class_name']})")
    name = config.get("name")
    where = f"{where} ({entry['class_name']} {name!r})" if name else f"{where} ({entry['class_name']})"
    try:
        return cls.from_config(config)
    except FileFormatError:
        raise
    except Exception as e:  # any failure on untrusted data is the file's defect; the cause stays chained
        raise FileFormatError(f"{where}: {type(e).__name__}: {e}") from e


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---- models ----------------------------------------------------------------------------------
def model_config(model):
    """`Sequential.get_config()`: name, layers (InputLayer first when the input is known), the
    build shape; every layer in Keras's serialized form."""
    entries = []
    if model._input_shape is not None:
        entries.append({"module": "keras.layers", "class_name": "InputLayer",
                        "config": {"batch_shape": [None, *model._input_shape], "dtype": "float32", "sparse": False,
                                   "name": model._input_layer.name if model._input_layer is not None else "input_layer"},
                        "registered_name": None})
    for layer, input_shape in _layer_inputs(model):
        entries.append(serialize_layer(layer, input_shape))
    return {"name": model.name, "trainable": model.trainable, "dtype": "float32", "layers": entries,
            "build_input_shape": [None, *model._input_shape] if model._input_shape is not None else None}


def _layer_inputs(model):
    shape = (None, *model._input_shape) if model.built else None
    for layer in model.layers:
        yield layer, shape
        if shape is not None:
            shape = tuple(layer.compute_output_shape(shape))


def model_from_config(config, safe_mode=True, custom_objects=None, where="config"):
    """`Sequential.from_config`: the model a `model_config` dict describes (weights fresh)."""
    from ferronet.models.sequential import Sequential

    if not isinstance(config, dict):
        raise FileFormatError(f"{where}: expected a model config object, got {_short(config)}")
    entries = config.get("layers", [])
    if not isinstance(entries, list):
        raise FileFormatError(f"{where}: expected a list of layers, got {_short(entries)}")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise FileFormatError(f"{where}: expected a string model name, got {_short(name)}")
    model = Sequential(name=name, trainable=bool(config.get("trainable", True)))
    for i, entry in enumerate(entries):
        layer = deserialize_layer(entry, safe_mode, custom_objects, f"{where}: layer {i}")
        try:
            model.add(layer, rebuild=False)
        except ValueError as e:
            raise FileFormatError(f"{where}: layer {i}: {e}") from None
    build_shape = config.get("build_input_shape")
    if model._input_shape is None and build_shape is not None:
        _check_shape(build_shape, f"{where}: build_input_shape")
        _build(model, tuple(build_shape), where)
    elif model._input_shape is not None and model.layers:
        _build(model, (None, *model._input_shape), where)
    return model


def _build(model, input_shape, where):
    """Build `model`; a failure names the layer being built (layers build in order)."""
    try:
        model.build(input_shape)
    except FileFormatError:
        raise
    except Exception as e:  # e.g. a config with `"kernel_initializer": null` (found by the fuzzer)
        layer = next((layer for layer in model.layers if not layer.built), None)
        which = f" layer {layer.name!r} ({type(layer).__name__})" if layer is not None else ""
        raise FileFormatError(f"{where}: building{which} for input {input_shape}: {type(e).__name__}: {e}") from e


def _check_shape(shape, where, max_elements=1 << 31):
    """A shape from a file: a list of positive ints (None for the batch axis), of sane size."""
    if not isinstance(shape, list) or not shape or len(shape) > 8:
        raise FileFormatError(f"{where}: expected a list of at most 8 dimensions, got {_short(shape)}")
    dims = shape[1:]
    if any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in dims if d is not None):
        raise FileFormatError(f"{where}: expected positive int dimensions, got {_short(shape)}")
    if math.prod(d for d in dims if d is not None) > max_elements:
        raise FileFormatError(f"{where}: expected at most {max_elements} values per sample, got shape {_short(shape)}")


# ---- compile settings --------------------------------------------------------------------------
def compile_config(model):
    """Keras's `compile_config`, or None for a model that was never compiled."""
    if not model.compiled:
        return None
    opt = model.optimizer
    return {"optimizer": {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": opt.get_config(), "registered_name": None},
            "loss": {"module": "keras.losses", "class_name": type(model.loss).__name__, "config": model.loss.get_config(), "registered_name": None},
            "loss_weights": None, "metrics": [m for m in model._metric_ids if isinstance(m, str)] or None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def apply_compile_config(model, config, where):
    """Compile `model` as `config` (Keras's compile_config) says."""
    if not isinstance(config, dict):
        raise FileFormatError(f"{where}: expected a compile_config object, got {_short(config)}")
    try:
        optimizer = config.get("optimizer", "rmsprop")
        if isinstance(optimizer, dict):
            optimizer = _clean(optimizer, where)
            optimizer = {"class_name": optimizer.get("class_name"), "config": _optimizer_config(optimizer.get("config", {}))}
        loss = config.get("loss")
        if isinstance(loss, dict):
            cls = losses._BY_NAME.get(loss.get("class_name"))
            if cls is None or not loss.get("class_name", "")[:1].isupper():
                raise ValueError(f"unknown loss class {loss.get('class_name')!r}")
            loss = cls.from_config(_clean(loss.get("config", {}), where))
        metrics = config.get("metrics") or []
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise ValueError(f"expected metrics as a list of names, got {_short(metrics)}")
        for key in ("loss_weights", "weighted_metrics"):
            if config.get(key):
                raise ValueError(f"{key} is not supported")
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except FileFormatError:
        raise
    except Exception as e:
        raise FileFormatError(f"{where}: compile_config: {type(e).__name__}: {e}") from e


def _optimizer_config(config):
    config = dict(config)
    # EMA's momentum means nothing without use_ema; the optimizer refuses use_ema=True itself.
    config.pop("ema_momentum", None)
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = {k: v for k, v in config["learning_rate"].items() if k in ("class_name", "config")}
    return config


# ---- the top-level object ------------------------------------------------------------------------
def serialize_model(model):
    """The whole `config.json` object: the model, its build and compile configs."""
    out = {"module": "keras", "class_name": "Sequential", "config": model_config(model), "registered_name": None}
    if model.built:
        out["build_config"] = {"input_shape": [None, *model._input_shape]}
    compiled = compile_config(model)
    if compiled is not None:
        out["compile_config"] = compiled
    return out


def deserialize_model(obj, safe_mode=True, custom_objects=None, compile=True, where="config.json", max_weights=1 << 28):
    """The model of a `serialize_model` object (Keras's or ferronet's), compiled if it says so.
    Building it may create at most `max_weights` weight values (the loaders pass what the file's
    weights entry can hold), so a config declaring huge layers is refused before allocating."""
    with weight_budget(max_weights, where):
        try:
            return _deserialize_model(obj, safe_mode, custom_objects, compile, where)
        except FileFormatError:
            raise
        except Exception as e:
            # A gap in the checks above: still the file's defect, never a bare TypeError. The
            # fuzz harness treats this marker as a finding, so gaps get closed, not hidden.
            raise FileFormatError(f"{where}: unreadable config (internal: {type(e).__name__}: {e})") from e


def _deserialize_model(obj, safe_mode, custom_objects, compile, where):
    if not isinstance(obj, dict):
        raise FileFormatError(f"{where}: expected a JSON object, got {_short(obj)}")
    if obj.get("class_name") != "Sequential":
        raise FileFormatError(f"{where}: expected a Sequential model, got class_name {obj.get('class_name')!r} "
                              "(ferronet loads Sequential models only)")
    model = model_from_config(obj.get("config"), safe_mode, custom_objects, where)
    if not model.built and isinstance(obj.get("build_config"), dict) and obj["build_config"].get("input_shape") is not None:
        shape = obj["build_config"]["input_shape"]
        _check_shape(shape, f"{where}: build_config")
        _build(model, tuple(shape), where)
    if compile and obj.get("compile_config"):  # Keras writes {} for an uncompiled model
        apply_compile_config(model, obj["compile_config"], where)
    return model

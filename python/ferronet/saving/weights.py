"""Weights, optimizer state and training state as safetensors bytes (the `.ferronet` format's
`model.safetensors` and `optimizer.safetensors`, and `save_weights("*.weights.safetensors")`).

Loading checks the header against the model (names, shapes) before any array is read."""

from ferronet import _core
from ferronet.errors import FileFormatError
from ferronet.saving.registry import named_weights

FORMAT_VERSION = "1"
# The header of a weights file for this model cannot need more than this (names and shapes).
HEADER_ALLOWANCE = 1 << 20


def _prefixed(where, call, *args):
    try:
        return call(*args)
    except FileFormatError as e:
        raise FileFormatError(f"{where}: {e}") from None


def expected_size(model):
    """An upper bound on the bytes of a weights file for `model` (to refuse bigger files unread)."""
    return 8 + HEADER_ALLOWANCE + sum(4 * t.size + 256 for _, t in named_weights(model))


def dump_weights(model):
    arrays = [(key, _core.to_numpy(t)) for key, t in named_weights(model)]
    return _core.safetensors_dump(arrays, [("format", "ferronet-weights"), ("format_version", FORMAT_VERSION)])


def load_weights(model, data, where):
    """Assign every weight of `model` from safetensors `data`; all or nothing."""
    expected = named_weights(model)
    _, entries = _prefixed(where, _core.safetensors_header, data)
    _match(dict(entries), [(k, tuple(t.shape)) for k, t in expected], where, "weights")
    _, arrays = _prefixed(where, _core.safetensors_load, data)
    values = dict(arrays)
    for key, tensor in expected:
        _core.assign(tensor, values[key])


def _match(found, expected, where, what):
    """Exactly the expected names, each with its expected shape."""
    names = [k for k, _ in expected]
    missing = [k for k in names if k not in found]
    extra = [k for k in found if k not in dict(expected)]
    if missing or extra:
        raise FileFormatError(f"{where}: the {what} do not fit the model: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}")
    for key, shape in expected:
        if tuple(found[key]) != shape:
            raise FileFormatError(f"{where}: {key}: expected shape {shape}, got {tuple(found[key])}")


# ---- optimizer state ---------------------------------------------------------------------------
def dump_optimizer(model):
    """The optimizer's per-weight state arrays and iteration count, or None before any step."""
    engine = model.optimizer._engine_state if model.optimizer is not None else None
    if engine is None:
        return None
    weights = named_weights(model)
    arrays = []
    for (key, tensor), slots in zip(weights, engine.get_slots([t for _, t in weights])):
        for j, slot in enumerate(slots or []):
            arrays.append((f"{key}/{j}", slot.reshape(tensor.shape)))
    meta = [("format", "ferronet-optimizer"), ("format_version", FORMAT_VERSION), ("iterations", str(engine.iterations)),
            ("optimizer", type(model.optimizer).__name__)]
    return _core.safetensors_dump(arrays, meta)


def load_optimizer(model, data, where):
    """Restore the optimizer state `dump_optimizer` wrote into `model`'s (compiled) optimizer."""
    meta, entries = _prefixed(where, _core.safetensors_header, data)
    if meta.get("optimizer") != type(model.optimizer).__name__:
        raise FileFormatError(f"{where}: expected state of a {type(model.optimizer).__name__} optimizer, got {meta.get('optimizer')!r}")
    iterations = meta.get("iterations", "")
    if not iterations.isdigit() or len(iterations) > 19:
        raise FileFormatError(f"{where}: expected a non-negative iteration count, got {iterations!r}")
    weights = dict(named_weights(model))
    by_weight = {}
    for name, shape in entries:
        key, _, index = name.rpartition("/")
        if key not in weights or not index.isdigit() or len(index) > 3:
            raise FileFormatError(f"{where}: optimizer state {name!r} names no weight of the model")
        if tuple(shape) != tuple(weights[key].shape):
            raise FileFormatError(f"{where}: {name}: expected shape {tuple(weights[key].shape)}, got {tuple(shape)}")
        by_weight.setdefault(key, {})[int(index)] = name
    _, arrays = _prefixed(where, _core.safetensors_load, data)
    values = dict(arrays)
    engine = model.optimizer._engine()
    for key, slots in by_weight.items():
        if sorted(slots) != list(range(len(slots))):
            raise FileFormatError(f"{where}: {key}: expected state arrays 0..{len(slots) - 1}, got {sorted(slots)}")
        _prefixed(where, engine.set_slots, weights[key], [values[slots[j]].reshape(-1) for j in range(len(slots))])
    engine.iterations = int(iterations)


# ---- training state ----------------------------------------------------------------------------
def training_state(model):
    """What a resumed `fit` needs besides weights and optimizer: the run's shuffle/dropout seed and
    the positions of layers' own generators (seeded Dropout)."""
    generators = {}
    for layer in model.layers if model.built else []:
        state = layer._engine_layer().generator_state()
        if state:
            generators[layer.name] = [str(s) for s in state]  # JSON numbers lose 64-bit ints elsewhere
    return {"fit_seed": None if getattr(model, "_fit_seed", None) is None else str(model._fit_seed), "generators": generators}


def apply_training_state(model, state, where):
    if not isinstance(state, dict):
        raise FileFormatError(f"{where}: expected a training state object, got {type(state).__name__}")
    seed = state.get("fit_seed")
    if seed is not None:
        model._fit_seed = _uint64(seed, f"{where}: fit_seed")
    generators = state.get("generators") or {}
    if not isinstance(generators, dict):
        raise FileFormatError(f"{where}: expected generators as an object, got {type(generators).__name__}")
    layers = {layer.name: layer for layer in model.layers}
    for name, values in generators.items():
        if name not in layers or not isinstance(values, list):
            raise FileFormatError(f"{where}: generator state for {name!r}, which is no layer of the model")
        _prefixed(where, layers[name]._engine_layer().set_generator_state, [_uint64(v, f"{where}: {name}") for v in values])


def _uint64(text, where):
    if not isinstance(text, str) or not text.isdigit() or int(text) >= 2**64:
        raise FileFormatError(f"{where}: expected a 64-bit unsigned integer as a string, got {text!r}")
    return int(text)

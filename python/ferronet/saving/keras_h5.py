"""Keras 3's `model.weights.h5` (inside `.keras` files, and `save_weights("*.weights.h5")`),
through h5py, an optional dependency: `pip install ferronet[keras]`.

Layout (Keras's `saving_lib`): `layers/<snake_case class name>[_N]/vars/0, 1, ...` per layer in
model order (N counts repeats of a class), sub-objects by attribute name (`lstm/cell/vars`,
`bidirectional/forward_layer/cell/vars`), `vars` for the model's own (none for Sequential) and
`optimizer/vars` for a compiled model's optimizer (not read: ferronet restores the optimizer's
configuration, and its state only from `.ferronet` files).
"""

import io

import numpy as np

from ferronet import _core
from ferronet._naming import to_snake_case
from ferronet.errors import FileFormatError
from ferronet.saving.registry import weight_groups


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading and writing Keras files (.keras, .weights.h5) needs h5py: pip install 'ferronet[keras]'") from None
    return h5py


def layer_paths(model):
    """[(layer, "layers/dense_1"), ...]: Keras names groups by class, not by layer name."""
    used = {}
    out = []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        count = used.get(base, 0)
        used[base] = count + 1
        out.append((layer, f"layers/{base}" if count == 0 else f"layers/{base}_{count}"))
    return out


def dump(model):
    """The bytes of a Keras weights file for `model` (weights only; see the module note)."""
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        layers = f.create_group("layers")
        for layer, path in layer_paths(model):
            group = layers.create_group(path.split("/", 1)[1])
            for sub, weights in weight_groups(layer):
                vars_group = group.require_group(sub)
                vars_group.attrs["name"] = _object_name(layer, sub)
                for i, (_, tensor) in enumerate(weights):
                    vars_group.create_dataset(str(i), data=_core.to_numpy(tensor))
        f.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def _object_name(layer, sub):
    # Keras records each object's name; for sub-objects ferronet has no separate names.
    owner = sub.rsplit("/", 1)[0] if "/" in sub else ""
    return layer.name if not owner else f"{layer.name}/{owner}"


def load(model, data, where):
    """Assign `model`'s weights from Keras weights-file bytes; every dataset is checked (present,
    float, the layer's shape) before any is read."""
    h5py = _h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except Exception as e:  # h5py raises OSError, ValueError and others for a non-HDF5 stream
        raise FileFormatError(f"{where}: expected an HDF5 weights file, got: {type(e).__name__}: {e}") from None
    with f:
        try:
            plan = _plan(f, model, where, h5py)
            values = [(tensor, _read(dataset, where, name)) for tensor, dataset, name in plan]
        except FileFormatError:
            raise
        except Exception as e:  # a corrupt file surfaces from libhdf5 only when data is read
            raise FileFormatError(f"{where}: unreadable HDF5 data: {type(e).__name__}: {e}") from None
    for tensor, value in values:
        _core.assign(tensor, value)


def _plan(f, model, where, h5py):
    plan = []
    for layer, path in layer_paths(model):
        for sub, weights in weight_groups(layer):
            full = f"{path}/{sub}"
            group = f.get(full)
            if group is None:
                if not weights:
                    continue  # Keras writes empty groups for weightless objects; none is fine too
                raise FileFormatError(f"{where}: {layer.name} ({type(layer).__name__}): expected the group {full!r}, missing")
            if not isinstance(group, h5py.Group):
                raise FileFormatError(f"{where}: expected {full!r} to be a group")
            names = sorted(group.keys(), key=lambda k: (len(k), k))
            if names != [str(i) for i in range(len(weights))]:
                raise FileFormatError(f"{where}: {layer.name} ({type(layer).__name__}): expected {len(weights)} weights "
                                      f"({', '.join(n for n, _ in weights) or 'none'}) in {full!r}, got datasets {names[:8]}")
            for i, (name, tensor) in enumerate(weights):
                dataset = group[str(i)]
                if not isinstance(dataset, h5py.Dataset):
                    raise FileFormatError(f"{where}: expected {full}/{i} to be a dataset")
                if tuple(dataset.shape) != tuple(tensor.shape):
                    raise FileFormatError(f"{where}: {layer.name} ({type(layer).__name__}) {name}: expected shape {tuple(tensor.shape)}, "
                                          f"got {tuple(dataset.shape)} in {full}/{i}")
                if dataset.dtype.kind != "f":
                    raise FileFormatError(f"{where}: {layer.name} {name}: expected float weights, got dtype {dataset.dtype} in {full}/{i}")
                plan.append((tensor, dataset, f"{full}/{i}"))
    return plan


def _read(dataset, where, name):
    value = np.asarray(dataset[()], dtype=np.float32)
    if value.shape != tuple(dataset.shape):
        raise FileFormatError(f"{where}: {name}: expected {tuple(dataset.shape)} values, got {value.shape}")
    return value

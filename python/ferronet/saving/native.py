"""The `.ferronet` file: a zip holding `metadata.json` (format, library version, date),
`config.json` (the model in Keras's config schema, with its compile settings), `model.safetensors`
(the weights) and, for a compiled model that has trained, `optimizer.safetensors` (per-weight
state and iteration count) and `training.json` (the run's seed and generator positions, so that
`fit(initial_epoch=k)` continues exactly)."""

import time

from ferronet import _core
from ferronet.errors import FileFormatError
from ferronet.saving import json_io, serialization, weights
from ferronet.saving.archive import ZipReader, write_zip

FORMAT_VERSION = 1
_MEMBERS = {"metadata.json", "config.json", "model.safetensors", "optimizer.safetensors", "training.json"}


def dump(model):
    """The bytes of a `.ferronet` file for `model`."""
    metadata = {"format": "ferronet", "format_version": FORMAT_VERSION, "ferronet_version": _core.__version__,
                "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}
    entries = [("metadata.json", json_io.dumps(metadata)),
               ("config.json", json_io.dumps(serialization.serialize_model(model))),
               ("model.safetensors", weights.dump_weights(model))]
    if model.compiled:
        state = weights.dump_optimizer(model)
        if state is not None:
            entries.append(("optimizer.safetensors", state))
        entries.append(("training.json", json_io.dumps(weights.training_state(model))))
    return write_zip(entries)


def load(path, safe_mode=True, custom_objects=None, compile=True):
    """The model saved in a `.ferronet` file."""
    with ZipReader(path, _MEMBERS, {"metadata.json", "config.json", "model.safetensors"}) as z:
        metadata = json_io.loads(z.read("metadata.json"), f"{path}: metadata.json")
        version = metadata.get("format_version")
        if metadata.get("format") != "ferronet" or not isinstance(version, int) or isinstance(version, bool):
            raise FileFormatError(f"{path}: metadata.json: expected format 'ferronet' with an integer format_version, got {metadata!r:.200}")
        if version > FORMAT_VERSION:
            raise FileFormatError(f"{path}: expected format_version <= {FORMAT_VERSION}, got {version} (saved by a newer ferronet)")
        config = json_io.loads(z.read("config.json"), f"{path}: config.json")
        budget = z.members["model.safetensors"].file_size // 4  # a model cannot have more weights than its file
        model = serialization.deserialize_model(config, safe_mode, custom_objects, compile, f"{path}: config.json", budget)
        if not model.built:
            raise FileFormatError(f"{path}: config.json: expected a model with a known input shape, got none")
        weights.load_weights(model, z.read("model.safetensors", weights.expected_size(model)), f"{path}: model.safetensors")
        if compile and model.compiled:
            if "optimizer.safetensors" in z.members:
                data = z.read("optimizer.safetensors", 4 * weights.expected_size(model))
                weights.load_optimizer(model, data, f"{path}: optimizer.safetensors")
            if "training.json" in z.members:
                weights.apply_training_state(model, json_io.loads(z.read("training.json"), f"{path}: training.json"), f"{path}: training.json")
    return model

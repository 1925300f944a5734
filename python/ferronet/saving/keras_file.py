"""Keras 3's `.keras` file: a zip holding `metadata.json`, `config.json` (the model and its
compile settings) and `model.weights.h5` (`keras_h5`). ferronet reads the files Keras writes for
every layer it has, and writes files Keras loads and predicts the same with."""

import time

from ferronet import _core
from ferronet.errors import FileFormatError
from ferronet.saving import json_io, keras_h5, serialization, weights
from ferronet.saving.archive import ZipReader, write_zip

# The Keras release whose format ferronet writes and was checked against (tests/data/keras_fixtures.py).
KERAS_FORMAT_VERSION = "3.15.1"
_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}


def dump(model):
    keras_h5._h5py()  # the clear ImportError before any work
    if not model.built:
        raise ValueError(f"{model.name}: save needs a built model (give it an Input or call build/fit first)")
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "ferronet_version": _core.__version__}
    return write_zip([("metadata.json", json_io.dumps(metadata)),
                      ("config.json", json_io.dumps(serialization.serialize_model(model))),
                      ("model.weights.h5", keras_h5.dump(model))])


def load(path, safe_mode=True, custom_objects=None, compile=True):
    keras_h5._h5py()
    with ZipReader(path, _MEMBERS | {"assets/"}, _MEMBERS) as z:
        json_io.loads(z.read("metadata.json"), f"{path}: metadata.json")
        config = json_io.loads(z.read("config.json"), f"{path}: config.json")
        budget = z.members["model.weights.h5"].file_size // 4  # a model cannot have more weights than its file
        model = serialization.deserialize_model(config, safe_mode, custom_objects, compile, f"{path}: config.json", budget)
        if not model.built:
            raise FileFormatError(f"{path}: config.json: expected a model with a known input shape, got none")
        # Keras adds the optimizer's state to the same file: allow room for Adam's two slots.
        data = z.read("model.weights.h5", 4 * weights.expected_size(model) + (1 << 20))
        keras_h5.load(model, data, f"{path}: model.weights.h5")
    return model

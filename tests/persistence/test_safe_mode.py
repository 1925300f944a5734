"""The loader never runs code from a file: classes come from a closed registry; custom classes
need registering and safe_mode=False; Lambda layers (Keras's marshalled bytecode) never load."""

import json
import zipfile

import numpy as np
import pytest

import ferronet as fn
from persistence.malformed import zip_bytes

L = fn.layers


@fn.saving.register_keras_serializable(package="tests")
class Scale(L.Layer):
    """A custom layer with its own config (`factor`, only recorded); passes its input through."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def _make_engine_layer(self):
        return fn._core.Layer.activation(self.name, "linear", {})

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _model():
    return fn.Sequential([fn.Input((3,)), L.Dense(2), Scale(3.0)])


def test_a_registered_custom_layer_loads_only_with_safe_mode_off(tmp_path):
    model = _model()
    model.save(tmp_path / "m.ferronet")
    config = json.loads(zipfile.ZipFile(tmp_path / "m.ferronet").read("config.json"))
    assert config["config"]["layers"][2]["registered_name"] == "tests>Scale"
    with pytest.raises(fn.errors.FileFormatError, match="runs your code when built; pass safe_mode=False"):
        fn.models.load_model(tmp_path / "m.ferronet")
    loaded = fn.models.load_model(tmp_path / "m.ferronet", safe_mode=False)
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 3.0
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_custom_objects_stand_in_for_registration(tmp_path):
    model = _model()
    model.save(tmp_path / "m.ferronet")
    data = zipfile.ZipFile(tmp_path / "m.ferronet")
    members = [(n, data.read(n)) for n in data.namelist()]
    config = json.loads(dict(members)["config.json"])
    config["config"]["layers"][2]["registered_name"] = None
    config["config"]["layers"][2]["class_name"] = "MyScale"
    (tmp_path / "c.ferronet").write_bytes(zip_bytes([(n, json.dumps(config).encode() if n == "config.json" else d) for n, d in members]))
    with pytest.raises(fn.errors.FileFormatError, match="unknown layer class 'MyScale'"):
        fn.models.load_model(tmp_path / "c.ferronet", safe_mode=False)
    loaded = fn.models.load_model(tmp_path / "c.ferronet", safe_mode=False, custom_objects={"MyScale": Scale})
    assert type(loaded.layers[1]) is Scale


def test_lambda_is_refused_even_with_safe_mode_off_unless_registered():
    entry = {"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "YQ=="}}}}
    config = {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3]}}, entry]}
    for safe_mode in (True, False):
        with pytest.raises(fn.errors.FileFormatError, match="holds Python code"):
            fn.saving.serialization.model_from_config(config, safe_mode=safe_mode)
    with pytest.raises(fn.errors.FileFormatError, match="holds Python code"):
        fn.Sequential.from_config(config, custom_objects={"Lambda": Scale})  # safe mode by default
    # The user's own class gets the config (and refuses the bytecode argument); nothing is unmarshalled.
    with pytest.raises(fn.errors.FileFormatError, match=r"Scale: unexpected keyword arguments \['function'\]"):
        fn.saving.serialization.model_from_config(config, safe_mode=False, custom_objects={"Lambda": Scale})


def test_register_refuses_non_layers():
    with pytest.raises(TypeError, match="ferronet Layer subclass"):
        fn.saving.register_keras_serializable()(object)


def test_model_from_json_refuses_configs_that_would_allocate_too_much():
    model = fn.Sequential([fn.Input((3,)), L.Dense(2)])
    text = model.to_json().replace('"units": 2', '"units": 1099511627776')
    with pytest.raises(fn.errors.FileFormatError, match="more than the file's weights can hold"):
        fn.models.model_from_json(text)


def test_a_null_initializer_is_a_clear_error_naming_the_layer():
    """Found by tests/fuzz/fuzz_loaders.py: `"kernel_initializer": null` made build call None."""
    model = fn.Sequential([fn.Input((3,)), L.Dense(2, name="d"), L.Dense(1, name="e")])
    text = model.to_json().replace('"name": "e", "trainable": true, "dtype": "float32", "units": 1, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}',
                                   '"name": "e", "trainable": true, "dtype": "float32", "units": 1, "activation": "linear", "use_bias": true, "kernel_initializer": null')
    assert '"kernel_initializer": null' in text
    with pytest.raises(fn.errors.FileFormatError, match=r"building layer 'e' \(Dense\) for input \(None, 3\): TypeError"):
        fn.models.model_from_json(text)


def test_a_non_string_registered_name_is_a_clear_error():
    """Found by tests/fuzz/fuzz_loaders.py: a dict as registered_name raised a bare TypeError."""
    config = {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3]}},
                                      {"class_name": "Dense", "registered_name": {"a": 1}, "config": {"units": 2}}]}
    with pytest.raises(fn.errors.FileFormatError, match="expected a string or null registered_name"):
        fn.Sequential.from_config(config)

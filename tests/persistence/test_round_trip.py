"""Save and load every layer type in both formats: identical predictions and identical configs;
the configuration APIs (get_config/from_config, to_json/model_from_json, clone_model)."""

import numpy as np
import pytest

import ferronet as fn
from persistence.common import L, LAYER_MODELS, available_layer_models, build


def test_every_layer_class_has_a_round_trip_model():
    missing = [c.__name__ for c in fn.layers._CLASSES if c.__name__ not in LAYER_MODELS and c.__name__ != "InputLayer"]
    assert not missing, f"add these layer classes to tests/persistence/common.py LAYER_MODELS: {missing}"


@pytest.mark.parametrize("name", available_layer_models())
def test_native_round_trip_every_layer(name, tmp_path):
    model, x = build(name)
    path = tmp_path / f"{name}.ferronet"
    model.save(path)
    loaded = fn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    assert loaded.compiled and loaded.optimizer.iterations == model.optimizer.iterations


@pytest.mark.parametrize("name", available_layer_models())
def test_keras_round_trip_every_layer(name, tmp_path):
    pytest.importorskip("h5py")
    model, x = build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = fn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    assert loaded.compiled and type(loaded.optimizer) is type(model.optimizer)


@pytest.mark.parametrize("suffix", [".weights.safetensors", ".weights.h5"])
def test_save_weights_and_load_weights(suffix, tmp_path):
    if suffix.endswith(".h5"):
        pytest.importorskip("h5py")
    model, x = build("BatchNormalization")
    path = tmp_path / f"w{suffix}"
    model.save_weights(path)
    fresh = fn.models.clone_model(model)
    assert not np.array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_optimizer_state_resumes_training_exactly(tmp_path):
    model, x = build("Dense")
    y = np.ones((len(x), 3), np.float32)
    model.save(tmp_path / "m.ferronet")
    loaded = fn.models.load_model(tmp_path / "m.ferronet")
    for m in (model, loaded):
        m.train_on_batch(x, y)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_get_config_from_config_and_json_round_trip():
    model = fn.Sequential([fn.Input((8, 8, 1)), L.Conv2D(2, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                           L.Dense(3, kernel_initializer="he_normal", bias_regularizer="l1")], name="net")
    config = model.get_config()
    assert config["layers"][1]["module"] == "keras.layers" and config["layers"][1]["build_config"] == {"input_shape": [None, 8, 8, 1]}
    assert fn.Sequential.from_config(config).get_config() == config
    model.compile(optimizer=fn.optimizers.SGD(0.1, momentum=0.9), loss="mse", metrics=["mae"])
    again = fn.models.model_from_json(model.to_json())
    assert again.get_config() == config and not again.compiled
    assert '"compile_config"' in model.to_json()


def test_clone_model_has_the_architecture_and_fresh_weights():
    model, x = build("Conv2D")
    clone = fn.models.clone_model(model)
    assert clone.get_config() == model.get_config()
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_save_refuses_unknown_suffixes_and_overwrite_false(tmp_path):
    model, _ = build("Dense", compile=False)
    with pytest.raises(ValueError, match="ending in .ferronet"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=".weights.safetensors or .weights.h5"):
        model.save_weights(tmp_path / "w.bin")
    model.save(tmp_path / "m.ferronet")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.ferronet", overwrite=False)
    with pytest.raises(FileNotFoundError):
        fn.models.load_model(tmp_path / "missing.ferronet")


def test_uncompiled_model_loads_uncompiled_and_compile_false_skips_settings(tmp_path):
    model, _ = build("Dense", compile=False)
    model.save(tmp_path / "plain.ferronet")
    assert not fn.models.load_model(tmp_path / "plain.ferronet").compiled
    compiled, _ = build("Dense")
    compiled.save(tmp_path / "compiled.ferronet")
    assert not fn.models.load_model(tmp_path / "compiled.ferronet", compile=False).compiled


def test_native_file_is_a_zip_of_json_and_safetensors(tmp_path):
    import json
    import zipfile

    model, _ = build("Dense")
    model.save(tmp_path / "m.ferronet")
    with zipfile.ZipFile(tmp_path / "m.ferronet") as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.safetensors", "optimizer.safetensors", "training.json"]
        meta = json.loads(z.read("metadata.json"))
        assert meta["format"] == "ferronet" and meta["ferronet_version"] == fn.__version__ and "date_saved" in meta
        weights = z.read("model.safetensors")
    _, entries = fn._core.safetensors_header(weights)
    name = model.layers[0].name
    assert dict(entries) == {f"{name}/kernel": (6, 3), f"{name}/bias": (3,)}


def test_safetensors_files_read_by_the_reference_package(tmp_path):
    """Files ferronet writes follow the format: the PyPI `safetensors` package reads them."""
    numpy_loader = pytest.importorskip("safetensors.numpy")
    model, _ = build("Dense")
    model.save_weights(tmp_path / "w.weights.safetensors")
    arrays = numpy_loader.load_file(str(tmp_path / "w.weights.safetensors"))
    np.testing.assert_array_equal(arrays[f"{model.layers[0].name}/kernel"], model.get_weights()[0])

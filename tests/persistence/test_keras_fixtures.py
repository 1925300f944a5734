"""Keras 3 files written by real Keras (tests/data/keras_fixtures.py) load in ferronet and predict
the same to 1e-5. The recurrent fixtures are in test_keras_rnn_fixtures.py."""

import numpy as np
import pytest

import ferronet as fn
from persistence.common import fixture

pytest.importorskip("h5py")

CASES = ["activations", "conv2d", "conv_variants", "dense", "sequence1d"]


@pytest.mark.parametrize("name", CASES)
def test_keras_fixture_predicts_the_same(name):
    path, x, expected = fixture(name)
    model = fn.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5, rtol=0)


def test_compile_settings_come_from_the_keras_file():
    model = fn.models.load_model(fixture("dense")[0])
    assert model.compiled and isinstance(model.optimizer, fn.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(0.002)
    assert type(model.loss).__name__ == "SparseCategoricalCrossentropy" and model._metric_ids == ["accuracy"]
    sgd = fn.models.load_model(fixture("conv2d")[0]).optimizer
    assert isinstance(sgd, fn.optimizers.SGD) and sgd.momentum == pytest.approx(0.9)
    assert not fn.models.load_model(fixture("sequence1d")[0]).compiled


def test_keras_model_trains_after_loading():
    path, x, _ = fixture("dense")
    model = fn.models.load_model(path)
    history = model.fit(x, np.arange(len(x)) % 4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_keras_weights_file_loads_into_a_rebuilt_model(tmp_path):
    """`save_weights("*.weights.h5")` has the same tree as the weights inside a .keras file."""
    import zipfile

    path, x, expected = fixture("conv2d")
    model = fn.models.load_model(path)
    with zipfile.ZipFile(path) as z:
        (tmp_path / "k.weights.h5").write_bytes(z.read("model.weights.h5"))
    fresh = fn.models.clone_model(model)
    fresh.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, atol=1e-5, rtol=0)

"""The recurrent Keras fixtures (SimpleRNN, LSTM, GRU, Bidirectional, Embedding): each test runs
once ferronet.layers has every class its file names, and skips until then."""

import numpy as np
import pytest

import ferronet as fn
from persistence.common import fixture

pytest.importorskip("h5py")

NEEDS = {"simple_rnn": ["SimpleRNN"], "lstm": ["Embedding", "LSTM"], "gru": ["GRU"],
         "bidirectional": ["Bidirectional", "LSTM", "GRU"], "embedding": ["Embedding"]}


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_keras_rnn_fixture_predicts_the_same(name):
    missing = [c for c in NEEDS[name] if not hasattr(fn.layers, c)]
    if missing:
        pytest.skip(f"ferronet.layers has no {', '.join(missing)} yet")
    path, x, expected = fixture(name)
    model = fn.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5, rtol=0)
    again = fn.Sequential.from_config(model.get_config())
    assert again.get_config() == model.get_config()

"""The recurrent Keras fixtures (SimpleRNN, LSTM, GRU, RNN over cells, Bidirectional, Embedding): files written by
Keras 3 load in ferronet and predict the same."""

import numpy as np
import pytest

import ferronet as fn
from persistence.common import fixture

pytest.importorskip("h5py")


@pytest.mark.parametrize("name", ["bidirectional", "embedding", "gru", "lstm", "rnn_cells", "simple_rnn"])
def test_keras_rnn_fixture_predicts_the_same(name):
    path, x, expected = fixture(name)
    model = fn.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5, rtol=0)
    again = fn.Sequential.from_config(model.get_config())
    assert again.get_config() == model.get_config()

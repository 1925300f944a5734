"""Keras's cell API: RNN(SimpleRNNCell / LSTMCell / GRUCell) is the fused SimpleRNN / LSTM / GRU,
with the same weights, options and masks; clear errors for what the engine does not run."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises, rng

L = fn.layers
CASES = [(L.SimpleRNNCell, L.SimpleRNN, {}), (L.LSTMCell, L.LSTM, {"unit_forget_bias": False}),
         (L.GRUCell, L.GRU, {"reset_after": False}), (L.GRUCell, L.GRU, {})]


@pytest.mark.parametrize("cell_cls, layer_cls, extra", CASES, ids=["simple", "lstm", "gru_before", "gru_after"])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "return_state": True, "go_backwards": True}], ids=["last", "all"])
def test_rnn_of_a_cell_is_the_fused_layer(cell_cls, layer_cls, extra, options):
    x = rng(0).standard_normal((3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 0]], bool)
    generic = L.RNN(cell_cls(3, activation="relu" if cell_cls is L.SimpleRNNCell else "tanh", **extra), **options)
    fused = layer_cls(3, activation="relu" if cell_cls is L.SimpleRNNCell else "tanh", **extra, **options)
    generic.build((None, 5, 4))
    fused.build((None, 5, 4))
    assert [w.shape for w in generic.get_weights()] == [w.shape for w in fused.get_weights()]
    fused.set_weights(generic.get_weights())
    a, b = generic(x, mask=mask), fused(x, mask=mask)
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_in_a_sequential_it_trains_and_round_trips_its_config():
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((6, 2)), L.RNN(L.LSTMCell(4), return_sequences=True), L.RNN(L.GRUCell(3)), L.Dense(1)])
    assert model.count_params() == 4 * (2 * 4 + 4 * 4 + 4) + 3 * (4 * 3 + 3 * 3 + 2 * 3) + 4
    model.compile("adam", "mse")
    x = rng(1).standard_normal((16, 6, 2)).astype(np.float32)
    history = model.fit(x, x.sum(axis=(1, 2))[:, None], epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    config = model.layers[0].get_config()
    assert config["cell"]["class_name"] == "LSTMCell" and config["cell"]["config"]["units"] == 4
    assert L.RNN.from_config(config).get_config() == config
    # Creating a cell takes no layer name from the counter.
    first = L.LSTM(2).name
    L.LSTMCell(2)
    assert L.LSTM(2).name == first.rsplit("_", 1)[0] + "_" + str(int(first.rsplit("_", 1)[1]) + 1 if "_" in first else 1)


def test_what_the_engine_does_not_run_is_a_clear_error():
    check_raises(TypeError, lambda: L.LSTMCell(3)(np.zeros((2, 4), np.float32), [np.zeros((2, 3))] * 2), "LSTMCell", "layers.RNN")
    check_raises(NotImplementedError, lambda: L.RNN([L.LSTMCell(3), L.LSTMCell(3)]), "stacked cells")
    check_raises(ValueError, lambda: L.RNN(L.Dense(3)), "SimpleRNNCell, LSTMCell or GRUCell")
    check_raises(TypeError, lambda: L.LSTMCell(3, return_sequences=True), "return_sequences", "layers.RNN")
    check_raises(ValueError, lambda: L.GRUCell(0), "units")
    check_raises(ValueError, lambda: L.RNN.from_config({"name": "r", "cell": {"class_name": "Lambda", "config": {}}}), "cell")

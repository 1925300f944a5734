"""Config round trips (get_config / from_config) for every recurrent-family layer, Bidirectional
and TimeDistributed included, inside a Sequential config too; Keras's parameter counts in
`count_params` and `summary()`; the per-layer contract (`check_layer`: shapes, weights, Keras
weight interchange, a training step)."""

import numpy as np
import pytest

import ferronet as fn

from ..cnn.common import check_layer
from .common import seeded

L = fn.layers

LAYERS = {
    "simple_rnn": lambda: L.SimpleRNN(3, activation="relu", use_bias=False, dropout=0.25, recurrent_dropout=0.1, return_sequences=True,
                                      go_backwards=True, seed=4, kernel_regularizer=fn.regularizers.L2(0.01)),
    "lstm": lambda: L.LSTM(4, recurrent_activation="hard_sigmoid", unit_forget_bias=False, return_state=True, stateful=True,
                           bias_initializer=fn.initializers.Constant(0.2), zero_output_for_mask=True),
    "gru": lambda: L.GRU(2, reset_after=False, activation="linear", recurrent_regularizer="l1", unroll=True, trainable=False),
    "gru_reset_after": lambda: L.GRU(3, name="my_gru", activity_regularizer=fn.regularizers.L1(0.1)),
    "bidirectional_concat": lambda: L.Bidirectional(L.LSTM(2, return_sequences=True)),
    "bidirectional_ave_explicit_backward": lambda: L.Bidirectional(L.SimpleRNN(2), merge_mode="ave",
                                                                   backward_layer=L.SimpleRNN(2, go_backwards=True, activation="relu")),
    "bidirectional_none": lambda: L.Bidirectional(L.GRU(2, return_state=True), merge_mode=None),
    "embedding": lambda: L.Embedding(7, 3, mask_zero=True, embeddings_initializer="glorot_uniform",
                                     embeddings_regularizer=fn.regularizers.L2(0.1)),
    "masking": lambda: L.Masking(mask_value=-1.5),
    "time_distributed": lambda: L.TimeDistributed(L.Dense(3, activation="tanh", name="inner")),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_get_config_from_config_round_trip(name):
    layer = LAYERS[name]()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = type(layer).from_config(clone.get_config())
    assert again.get_config() == config


def test_recurrent_config_has_keras_keys():
    config = L.LSTM(3).get_config()
    for key in ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                "bias_initializer", "unit_forget_bias", "dropout", "recurrent_dropout", "seed", "return_sequences",
                "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask", "name", "trainable", "dtype"):
        assert key in config, key
    assert config["activation"] == "tanh" and config["recurrent_activation"] == "sigmoid" and config["unit_forget_bias"] is True
    assert L.GRU(2).get_config()["reset_after"] is True
    bidi = L.Bidirectional(L.GRU(2)).get_config()
    assert bidi["merge_mode"] == "concat"
    assert bidi["layer"]["class_name"] == "GRU" and bidi["backward_layer"]["config"]["go_backwards"] is True


def test_bidirectional_from_config_keeps_names_and_computes_the_same():
    layer = L.Bidirectional(L.LSTM(2, name="enc", return_sequences=True), merge_mode="mul")
    x = seeded((2, 3, 4))
    expected = layer(x).numpy()
    clone = L.Bidirectional.from_config(layer.get_config())
    assert clone.forward_layer.name == "forward_enc" and clone.backward_layer.name == "backward_enc"
    clone.build((None, 3, 4))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), expected)


def test_sequential_config_round_trip_with_recurrent_layers():
    model = fn.Sequential([fn.Input((5,)), L.Embedding(10, 4, mask_zero=True), L.Bidirectional(L.GRU(3, return_sequences=True)),
                           L.TimeDistributed(L.Dense(2)), L.LSTM(2), L.Dense(1)])
    clone = fn.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


# ---- parameter counts ----------------------------------------------------------------------------

F, U = 5, 3
PARAMS = [
    (lambda: L.SimpleRNN(U), F * U + U * U + U),
    (lambda: L.SimpleRNN(U, use_bias=False), F * U + U * U),
    (lambda: L.LSTM(U), 4 * (F * U + U * U + U)),
    (lambda: L.LSTM(U, use_bias=False), 4 * (F * U + U * U)),
    (lambda: L.GRU(U), 3 * (F * U + U * U + 2 * U)),
    (lambda: L.GRU(U, reset_after=False), 3 * (F * U + U * U + U)),
    (lambda: L.Bidirectional(L.LSTM(U)), 2 * 4 * (F * U + U * U + U)),
    (lambda: L.Bidirectional(L.GRU(U), backward_layer=L.GRU(2, go_backwards=True)), 3 * (F * U + U * U + 2 * U) + 3 * (F * 2 + 4 + 4)),
    (lambda: L.TimeDistributed(L.Dense(U)), F * U + U),
]


@pytest.mark.parametrize("index", range(len(PARAMS)))
def test_count_params_and_summary_match_keras(index):
    make, expected = PARAMS[index]
    layer = make()
    model = fn.Sequential([fn.Input((4, F)), layer])
    assert layer.count_params() == expected
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"Total params: {expected:,}" in text


def test_summary_output_shapes():
    model = fn.Sequential([fn.Input((6,)), L.Embedding(20, 8), L.LSTM(5, return_sequences=True), L.Bidirectional(L.GRU(4)), L.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for shape, params in (("(None, 6, 8)", "160"), ("(None, 6, 5)", "280"), ("(None, 8)", "264"), ("(None, 2)", "18")):
        row = next(line for line in text.splitlines() if shape in line)
        assert params in row, row
    assert "Total params: 722" in text  # 160 + 4 * (8 * 5 + 25 + 5) + 2 * 3 * (5 * 4 + 16 + 8) + 18


# ---- the per-layer contract ----------------------------------------------------------------------

def test_layer_contract():
    check_layer(lambda: L.SimpleRNN(3, return_sequences=True), (4, 2), (4, 3), [(2, 3), (3, 3), (3,)])
    check_layer(lambda: L.LSTM(2, return_sequences=True, go_backwards=True), (4, 3), (4, 2), [(3, 8), (2, 8), (8,)])
    check_layer(lambda: L.GRU(2, return_sequences=True), (4, 3), (4, 2), [(3, 6), (2, 6), (2, 6)])
    check_layer(lambda: L.GRU(2, return_sequences=True, reset_after=False, use_bias=False), (4, 3), (4, 2), [(3, 6), (2, 6)])
    check_layer(lambda: L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="sum"), (4, 3), (4, 2), [(3, 8), (2, 8), (8,)] * 2)
    check_layer(lambda: L.TimeDistributed(L.Dense(3)), (4, 2), (4, 3), [(2, 3), (3,)])

"""Keras's hard-coded RNN expectations (keras/src/layers/rnn/{lstm,gru,simple_rnn,bidirectional,
time_distributed}_test.py and core/embedding_test.py, keras 3.15.1), reproduced with the same
setups: Constant(0.01) kernel, Constant(0.02) recurrent kernel, Constant(0.03) bias. Every Keras
row has all units equal, so each expectation is written as one value per batch row where that
holds. Tolerance: Keras's own (rtol = atol = 1e-5)."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import assert_close
from .common import GOLDEN, keras_constant

L = fn.layers

SEQ_72 = np.arange(72, dtype=np.float32).reshape(3, 6, 4)
SEQ_234 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
SEQ_243 = np.arange(24, dtype=np.float32).reshape(2, 4, 3)


def rows(values, units):
    """Keras's expectation arrays: one value per batch row, repeated over the units."""
    return np.repeat(np.asarray(values, np.float64)[..., None], units, axis=-1)


def check(got, expected, what):
    assert_close(got.numpy() if hasattr(got, "numpy") else got, expected, GOLDEN, what=what)


# (layer class, units, layer kwargs, input, expected last outputs per row); from test_correctness.
CORRECTNESS = {
    "lstm": (L.LSTM, 3, {}, SEQ_72, [0.6288687, 0.86899155, 0.9460773]),
    "lstm_go_backwards": (L.LSTM, 3, dict(go_backwards=True), SEQ_72, [0.35622165, 0.74789524, 0.8872726]),
    "lstm_unroll": (L.LSTM, 3, dict(unroll=True), SEQ_72, [0.6288687, 0.86899155, 0.9460773]),
    "lstm_implementation_1": (L.LSTM, 3, dict(implementation=1), SEQ_72, [0.6288687, 0.86899155, 0.9460773]),
    "lstm_no_unit_forget_bias": (L.LSTM, 3, dict(unit_forget_bias=False), SEQ_72, [0.57019705, 0.8661914, 0.9459622]),
    "lstm_no_bias": (L.LSTM, 3, dict(use_bias=False), SEQ_72, [0.54986924, 0.86226785, 0.9443936]),
    "gru": (L.GRU, 3, {}, SEQ_72, [0.5217289, 0.6371659, 0.39384964]),
    "gru_go_backwards": (L.GRU, 3, dict(go_backwards=True), SEQ_72, [0.24406259, 0.611516, 0.3928808]),
    "gru_unroll": (L.GRU, 3, dict(unroll=True), SEQ_72, [0.5217289, 0.6371659, 0.39384964]),
    "gru_reset_before": (L.GRU, 3, dict(reset_after=False), SEQ_72, [0.51447755, 0.6426879, 0.40208298]),
    "gru_no_bias": (L.GRU, 3, dict(use_bias=False), SEQ_72, [0.49988455, 0.64701194, 0.4103359]),
    "simple_rnn": (L.SimpleRNN, 4, {}, SEQ_234, [0.405432, 0.73605347]),
    "simple_rnn_unroll": (L.SimpleRNN, 4, dict(unroll=True), SEQ_234, [0.405432, 0.73605347]),
    "simple_rnn_go_backwards": (L.SimpleRNN, 4, dict(go_backwards=True), SEQ_234, [0.11144729, 0.5528889]),
    # keras-api.md §7 (observed with keras 3.15.1): SimpleRNN(2) on arange(72).reshape(3, 6, 4) / 72.
    "simple_rnn_scaled_72": (L.SimpleRNN, 2, {}, SEQ_72 / 72, [0.0435671, 0.0574190, 0.0712480]),
}


@pytest.mark.parametrize("case", sorted(CORRECTNESS))
def test_correctness(case):
    cls, units, kwargs, x, expected = CORRECTNESS[case]
    check(keras_constant(cls, units, **kwargs)(x), rows(expected, units), case)


@pytest.mark.parametrize("cls,units,expected", [
    (L.LSTM, 4, [0.3124785, 0.6863672]),
    (L.GRU, 4, [0.29542392, 0.5885018]),
    (L.SimpleRNN, 4, [0.40559256, 0.7361247]),
])
def test_statefulness(cls, units, expected):
    layer = keras_constant(cls, units, stateful=True)
    for _ in range(2):  # Keras checks the second call, then again after reset_state()
        layer(SEQ_234)
        check(layer(SEQ_234), rows(expected, units), f"{cls.__name__} second stateful call")
        layer.reset_state()


def test_pass_initial_state():
    lstm_state = [np.arange(4, dtype=np.float32).reshape(2, 2)] * 2
    check(keras_constant(L.LSTM, 2)(SEQ_243, initial_state=lstm_state), [[0.20574439, 0.3558822], [0.64930826, 0.66276]], "LSTM")
    check(keras_constant(L.LSTM, 2, go_backwards=True)(SEQ_243, initial_state=lstm_state),
          [[0.13281618, 0.2790356], [0.5839337, 0.5992567]], "LSTM go_backwards")
    gru_state = np.arange(4, dtype=np.float32).reshape(2, 2)
    check(keras_constant(L.GRU, 2)(SEQ_243, initial_state=gru_state), [[0.23774096, 0.33508456], [0.83659905, 1.0227708]], "GRU")
    check(keras_constant(L.GRU, 2, go_backwards=True)(SEQ_243, initial_state=gru_state),
          [[0.13486053, 0.23261218], [0.78257304, 0.9691353]], "GRU go_backwards")
    rnn_state = np.arange(8, dtype=np.float32).reshape(2, 4)
    check(keras_constant(L.SimpleRNN, 4)(SEQ_243, initial_state=rnn_state), rows([0.33621645, 0.6262637], 4), "SimpleRNN")
    check(keras_constant(L.SimpleRNN, 4, go_backwards=True)(SEQ_243, initial_state=rnn_state),
          rows([0.07344437, 0.43043602], 4), "SimpleRNN go_backwards")


def test_gru_return_state():
    state = np.arange(4, dtype=np.float32).reshape(2, 2)
    for go_backwards, expected in ((False, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
                                   (True, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]])):
        output, h = keras_constant(L.GRU, 2, return_state=True, go_backwards=go_backwards)(SEQ_243, initial_state=state)
        check(output, expected, f"GRU return_state go_backwards={go_backwards}")
        check(h, expected, "GRU returned state")


def test_gru_legacy_implementation_argument():
    config = keras_constant(L.GRU, 3).get_config()
    layer = L.GRU.from_config({**config, "name": None, "implementation": 1})
    check(layer(SEQ_72), rows([0.5217289, 0.6371659, 0.39384964], 3), "GRU from a config with implementation")


LSTM_MASK = np.array([[True, True, True, False], [True, True, False, False]])
GAPPY_MASK = np.array([[True, True, False, True], [True, False, False, True]])


def test_lstm_masking():
    check(keras_constant(L.LSTM, 2, unroll=True)(SEQ_243, mask=LSTM_MASK), rows([0.11755939, 0.28556206], 2), "last")
    seq = keras_constant(L.LSTM, 2, return_sequences=True)(SEQ_243, mask=LSTM_MASK)
    check(seq, rows([[0.01588910, 0.05552048, 0.11755939, 0.11755939], [0.14185596, 0.28556206, 0.28556206, 0.28556206]], 2),
          "sequences: masked steps repeat the previous output")
    seq = keras_constant(L.LSTM, 2, return_sequences=True, zero_output_for_mask=True)(SEQ_243, mask=LSTM_MASK)
    check(seq, rows([[0.01588910, 0.05552048, 0.11755939, 0.0], [0.14185596, 0.28556206, 0.0, 0.0]], 2), "zero_output_for_mask")
    backwards_mask = np.array([[False, True, True, True], [False, False, True, True]])
    check(keras_constant(L.LSTM, 2, go_backwards=True)(SEQ_243, mask=backwards_mask), rows([0.15341201, 0.3844719], 2), "go_backwards")


def test_gru_masking():
    check(keras_constant(L.GRU, 2, unroll=True)(SEQ_243, mask=GAPPY_MASK), rows([0.19393763, 0.30818558], 2), "last")
    seq = keras_constant(L.GRU, 2, return_sequences=True)(SEQ_243, mask=GAPPY_MASK)
    check(seq, rows([[0.03606692, 0.09497581, 0.09497581, 0.19393763], [0.16051409, 0.16051409, 0.16051409, 0.30818558]], 2),
          "sequences")
    seq = keras_constant(L.GRU, 2, return_sequences=True, zero_output_for_mask=True)(SEQ_243, mask=GAPPY_MASK)
    check(seq, rows([[0.03606692, 0.09497581, 0.0, 0.19393763], [0.16051409, 0.0, 0.0, 0.30818558]], 2), "zero_output_for_mask")
    check(keras_constant(L.GRU, 2, go_backwards=True)(SEQ_243, mask=GAPPY_MASK), rows([0.11669192, 0.28380975], 2), "go_backwards")


def test_simple_rnn_masking():
    check(keras_constant(L.SimpleRNN, 4, unroll=True)(SEQ_243, mask=GAPPY_MASK), rows([0.32951632, 0.61799484], 4), "last")
    seq = keras_constant(L.SimpleRNN, 2, return_sequences=True)(SEQ_243, mask=GAPPY_MASK)
    check(seq, rows([[0.0599281, 0.15122814, 0.15122814, 0.32394567], [0.3969304, 0.3969304, 0.3969304, 0.608085]], 2), "sequences")
    seq = keras_constant(L.SimpleRNN, 2, return_sequences=True, zero_output_for_mask=True)(SEQ_243, mask=GAPPY_MASK)
    check(seq, rows([[0.0599281, 0.15122814, 0.0, 0.32394567], [0.3969304, 0.0, 0.0, 0.608085]], 2), "zero_output_for_mask")
    check(keras_constant(L.SimpleRNN, 4, go_backwards=True)(SEQ_243, mask=GAPPY_MASK), rows([0.07376196, 0.43645123], 4), "go_backwards")


# ---- bidirectional_test.py -------------------------------------------------------------------------

def test_bidirectional_correctness():
    forward = keras_constant(L.SimpleRNN, 2)
    check(L.Bidirectional(forward)(SEQ_234), [[0.39687276, 0.39687276, 0.10004295, 0.10004295],
                                               [0.7237238, 0.7237238, 0.53391594, 0.53391594]], "concat")
    check(L.Bidirectional(forward, merge_mode="ave")(SEQ_234), rows([0.24845785, 0.6288199], 2), "ave")
    first, second = L.Bidirectional(forward, merge_mode=None)(SEQ_234)
    check(first, rows([0.39687276, 0.7237238], 2), "merge_mode=None forward")
    check(second, rows([0.10004295, 0.53391594], 2), "merge_mode=None backward")
    backward = L.SimpleRNN(2, kernel_initializer=fn.initializers.Constant(0.03), recurrent_initializer=fn.initializers.Constant(0.02),
                           bias_initializer=fn.initializers.Constant(0.01), go_backwards=True)
    check(L.Bidirectional(forward, backward_layer=backward, merge_mode="mul")(SEQ_234), rows([0.08374989, 0.6740834], 2), "mul")
    gru = keras_constant(L.GRU, 2, return_sequences=True)
    check(L.Bidirectional(gru, merge_mode="sum")(SEQ_234),
          rows([[0.20937867, 0.34462988, 0.40290534], [0.59829646, 0.6734641, 0.6479671]], 2), "sum, sequences")


def test_bidirectional_statefulness():
    layer = L.Bidirectional(keras_constant(L.LSTM, 2, stateful=True))
    expected = [[0.26234663, 0.26234663, 0.16959146, 0.16959146], [0.6137073, 0.6137073, 0.5381646, 0.5381646]]
    for _ in range(2):
        layer(SEQ_243)
        check(layer(SEQ_243), expected, "second stateful call")
        layer.reset_states()


def test_bidirectional_pass_initial_state():
    state = [np.arange(4, dtype=np.float32).reshape(2, 2) * k for k in (1, 2, 3, 4)]
    check(L.Bidirectional(keras_constant(L.LSTM, 2))(SEQ_243, initial_state=state),
          [[0.20794602, 0.4577124, 0.14046375, 0.48191673], [0.6682636, 0.6711909, 0.60943645, 0.60950446]], "initial state")


def test_bidirectional_masking():
    check(L.Bidirectional(keras_constant(L.GRU, 2))(SEQ_243, mask=GAPPY_MASK),
          [[0.19393763, 0.19393763, 0.11669192, 0.11669192], [0.30818558, 0.30818558, 0.28380975, 0.28380975]], "mask")


def test_bidirectional_return_state():
    output, h1, c1, h2, c2 = L.Bidirectional(keras_constant(L.LSTM, 2, return_state=True))(SEQ_243)
    check(output, [[0.1990008, 0.1990008, 0.12659755, 0.12659755], [0.52335435, 0.52335435, 0.44717982, 0.44717982]], "output")
    check(h1, rows([0.1990008, 0.52335435], 2), "forward h")
    check(c1, rows([0.35567185, 1.0492687], 2), "forward c")
    check(h2, rows([0.12659755, 0.44717982], 2), "backward h")
    check(c2, rows([0.2501858, 0.941473], 2), "backward c")


def test_bidirectional_output_shapes():
    x = np.array([[[101, 202], [303, 404]]], dtype=np.float32)
    for merge_mode in ["ave", "concat", "mul", "sum", None]:
        layer = L.Bidirectional(L.LSTM(2, return_state=True), merge_mode=merge_mode)
        outputs = layer(x)
        shapes = layer.compute_output_shape(x.shape)
        assert len(outputs) == len(shapes) == (6 if merge_mode is None else 5)
        for out, shape in zip(outputs, shapes):
            assert out.shape == tuple(shape)
    for merge_mode in ["concat", "ave", "mul", "sum"]:
        layer = L.Bidirectional(L.LSTM(2), merge_mode=merge_mode)
        assert layer(x).shape == layer.compute_output_shape(x.shape)
    layer = L.Bidirectional(L.LSTM(2), merge_mode=None)
    outputs = layer(x)
    assert [o.shape for o in outputs] == [tuple(s) for s in layer.compute_output_shape(x.shape)] == [(1, 2), (1, 2)]


# ---- time_distributed_test.py, embedding_test.py ---------------------------------------------------

def test_time_distributed_correctness():
    layer = L.TimeDistributed(L.Dense(1, kernel_initializer=fn.initializers.Constant(0.01), use_bias=False))
    out = layer(np.arange(24, dtype=np.float32).reshape(3, 2, 4))
    check(out, [[[0.06], [0.22]], [[0.38], [0.53999996]], [[0.7], [0.86]]], "TimeDistributed(Dense)")


def test_embedding_correctness_and_mask():
    layer = L.Embedding(3, 2)
    layer.build((None,))
    layer.set_weights([np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]], np.float32)])
    np.testing.assert_array_equal(layer(np.array([2, 1, 0])).numpy(), [[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]])
    np.testing.assert_array_equal(L.Embedding(3, 2, mask_zero=True).compute_mask(np.array([2, 1, 0])), [True, True, False])
    assert L.Embedding(3, 2).compute_mask(np.array([2, 1, 0])) is None
    np.testing.assert_array_equal(L.Embedding(3, 4, weights=np.ones((3, 4), np.float32))(np.array([[0, 2]])).numpy(), np.ones((1, 2, 4)))

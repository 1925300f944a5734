"""Bidirectional against two runs of the float64 reference: every merge mode, with and without
return_sequences / return_state, masks, initial states and an explicit backward layer, forward
values and the gradients of the input, both layers' weights and the initial states."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises
from .common import check_rnn, randomize, seeded

L = fn.layers

MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], dtype=bool)
MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("merge_mode", MODES, ids=str)
@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_merge_modes_forward_and_gradients(cell, merge_mode):
    inner = getattr(L, cell)(3, return_sequences=True)
    layer = L.Bidirectional(inner, merge_mode=merge_mode)
    randomize(layer, (2, 4, 3))
    outputs = check_rnn(layer, seeded((2, 4, 3)))
    width = 6 if merge_mode == "concat" else 3
    assert [o.shape for o in outputs] == [(2, 4, width)] * (2 if merge_mode is None else 1)


@pytest.mark.parametrize("merge_mode", MODES, ids=str)
def test_return_state_initial_state_and_mask(merge_mode):
    layer = L.Bidirectional(L.LSTM(2, return_state=True), merge_mode=merge_mode)
    randomize(layer, (2, 5, 3))
    init = [seeded((2, 2), seed=20 + i) for i in range(4)]  # forward h, c, backward h, c
    # MASK's row 0 ends on padding, where the backward pass starts: with initial states, the
    # backward outputs before its first real step are zeros (not the initial h), as in Keras.
    outputs = check_rnn(layer, seeded((2, 5, 3)), mask=MASK)
    assert len(outputs) == (2 if merge_mode is None else 1) + 4
    inner_mask = np.array([[1, 1, 0, 1, 1], [1, 0, 1, 0, 1]], dtype=bool)
    check_rnn(layer, seeded((2, 5, 3), seed=1), initial_state=init, mask=inner_mask)
    check_rnn(layer, seeded((2, 5, 3), seed=2), initial_state=init, mask=MASK)


def test_gru_sequences_with_mask_zero_outputs_and_gradients():
    layer = L.Bidirectional(L.GRU(3, reset_after=False, return_sequences=True, return_state=True), merge_mode="concat")
    randomize(layer, (2, 5, 2))
    seq, *_ = check_rnn(layer, seeded((2, 5, 2)), mask=MASK)
    np.testing.assert_array_equal(seq[0, 3:], 0.0)


def test_explicit_backward_layer_and_go_backwards_forward_layer():
    forward = L.SimpleRNN(3, return_sequences=True, activation="relu")
    backward = L.GRU(2, return_sequences=True, go_backwards=True)
    layer = L.Bidirectional(forward, backward_layer=backward, merge_mode="concat")
    randomize(layer, (2, 4, 3))
    assert [w.shape for w in layer.get_weights()] == [(3, 3), (3, 3), (3,), (3, 6), (2, 6), (2, 6)]
    seq = check_rnn(layer, seeded((2, 4, 3)))[0]
    assert seq.shape == (2, 4, 5)
    # a forward layer that itself reads backwards: the "backward" copy reads forwards
    flipped = L.Bidirectional(L.LSTM(2, go_backwards=True), merge_mode="sum")
    assert flipped.backward_layer.go_backwards is False
    randomize(flipped, (2, 4, 3))
    check_rnn(flipped, seeded((2, 4, 3)), mask=np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool))


def test_weights_are_forward_then_backward_in_keras_order():
    layer = L.Bidirectional(L.LSTM(3))
    layer.build((None, 4, 2))
    assert [w.shape for w in layer.get_weights()] == [(2, 12), (3, 12), (12,)] * 2
    arrays = randomize(layer, (1, 4, 2))
    for got, sent in zip(layer.forward_layer.get_weights() + layer.backward_layer.get_weights(), arrays):
        np.testing.assert_array_equal(got, sent)
    assert layer.count_params() == 2 * 4 * (2 * 3 + 3 * 3 + 3)
    assert layer.forward_layer.name.startswith("forward_") and layer.backward_layer.name.startswith("backward_")


def test_weights_argument_sets_the_initial_weights():
    inner = L.GRU(2)
    inner.build((None, 3, 2))
    arrays = [np.full(w.shape, 0.1 * (i + 1), np.float32) for i, w in enumerate(inner.get_weights() * 2)]
    layer = L.Bidirectional(L.GRU(2), weights=arrays)
    layer(np.zeros((1, 3, 2), np.float32))
    for got, sent in zip(layer.get_weights(), arrays):
        np.testing.assert_array_equal(got, sent)


def test_stateful_bidirectional_continues_both_directions():
    x = seeded((2, 3, 3))
    layer = L.Bidirectional(L.GRU(2, stateful=True, return_state=True))
    randomize(layer, x.shape)
    _, fh, bh = layer(x)
    states = layer.states
    np.testing.assert_array_equal(states[0], fh.numpy())
    np.testing.assert_array_equal(states[1], bh.numpy())
    second = check_rnn(layer, x, initial_state=[fh.numpy(), bh.numpy()], grad=False)  # explicit = carried
    layer.reset_states()
    layer(x)
    np.testing.assert_array_equal(layer(x)[0].numpy(), second[0])


def test_trainable_false_freezes_both_layers():
    layer = L.Bidirectional(L.LSTM(2))
    layer.build((None, 3, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 6
    assert not layer.forward_layer.trainable and not layer.backward_layer.trainable


def test_bidirectional_bad_arguments():
    check_raises(ValueError, lambda: L.Bidirectional(L.Dense(2)), "Bidirectional", "SimpleRNN, LSTM or GRU")
    check_raises(ValueError, lambda: L.Bidirectional(L.LSTM(2), merge_mode="max"), "merge_mode", "'max'")
    check_raises(ValueError, lambda: L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2)), "go_backwards")
    check_raises(ValueError, lambda: L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2, go_backwards=True, return_sequences=True)),
                 "return_sequences")
    check_raises(ValueError, lambda: L.Bidirectional(L.LSTM(2), backward_layer=L.Dense(2)), "backward_layer")

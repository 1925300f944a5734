"""SimpleRNN, LSTM and GRU (both reset placements) against the float64 step-by-step reference:
outputs, returned states and sequences, and the gradients of the input, kernel, recurrent kernel,
bias and initial states by finite differences, for every option (no bias, activations,
go_backwards, initial states, masks, zero_output_for_mask); Keras-layout weights; stateful
layers; dropout."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import BALANCED, assert_close, check_raises
from . import reference as ref
from .common import check_rnn, keras_constant, randomize, seeded

L = fn.layers

#: A mask with padding at the end, in the middle and at the start (B=3, T=5).
MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=bool)
#: A mask whose first and last steps are real (so neither direction starts on padding).
MASK_INNER = np.array([[1, 1, 0, 0, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]], dtype=bool)

# name: (layer class, layer kwargs, call options); inputs (3, 5, 3) unless "shape" is given.
CASES = {
    "simple_rnn": (L.SimpleRNN, dict(units=3), {}),
    "simple_rnn_sequences_states": (L.SimpleRNN, dict(units=4, return_sequences=True, return_state=True), {}),
    "simple_rnn_relu_no_bias": (L.SimpleRNN, dict(units=3, activation="relu", use_bias=False, return_sequences=True), {}),
    "simple_rnn_backwards_initial_state": (L.SimpleRNN, dict(units=3, go_backwards=True, return_state=True), dict(initial_state=True)),
    "simple_rnn_mask": (L.SimpleRNN, dict(units=3, return_sequences=True, return_state=True), dict(mask=MASK)),
    "lstm": (L.LSTM, dict(units=3), {}),
    "lstm_sequences_states": (L.LSTM, dict(units=3, return_sequences=True, return_state=True), {}),
    "lstm_no_bias": (L.LSTM, dict(units=2, use_bias=False, return_sequences=True), {}),
    "lstm_hard_sigmoid_linear": (L.LSTM, dict(units=3, activation="linear", recurrent_activation="hard_sigmoid", return_state=True), {}),
    "lstm_relu_tanh_gates": (L.LSTM, dict(units=2, activation="relu", recurrent_activation="tanh", return_sequences=True), {}),
    "lstm_backwards": (L.LSTM, dict(units=3, go_backwards=True, return_sequences=True, return_state=True), {}),
    "lstm_initial_state": (L.LSTM, dict(units=3, return_sequences=True, return_state=True), dict(initial_state=True)),
    "lstm_mask": (L.LSTM, dict(units=3, return_sequences=True, return_state=True), dict(mask=MASK)),
    "lstm_mask_zero_output": (L.LSTM, dict(units=3, return_sequences=True, zero_output_for_mask=True), dict(mask=MASK)),
    "lstm_mask_backwards_initial_state": (L.LSTM, dict(units=2, go_backwards=True, return_sequences=True, return_state=True),
                                          dict(mask=MASK_INNER, initial_state=True)),
    "gru_mask_initial_state": (L.GRU, dict(units=3, return_sequences=True, return_state=True), dict(mask=MASK_INNER, initial_state=True)),
    "gru": (L.GRU, dict(units=3), {}),
    "gru_sequences_states": (L.GRU, dict(units=3, return_sequences=True, return_state=True), {}),
    "gru_no_bias": (L.GRU, dict(units=3, use_bias=False, return_sequences=True), {}),
    "gru_hard_sigmoid_relu": (L.GRU, dict(units=3, activation="relu", recurrent_activation="hard_sigmoid", return_state=True), {}),
    "gru_backwards_initial_state": (L.GRU, dict(units=3, go_backwards=True, return_sequences=True, return_state=True), dict(initial_state=True)),
    "gru_mask": (L.GRU, dict(units=3, return_sequences=True, return_state=True), dict(mask=MASK)),
    "gru_mask_zero_output_backwards": (L.GRU, dict(units=2, go_backwards=True, return_sequences=True, zero_output_for_mask=True), dict(mask=MASK)),
    "gru_reset_before": (L.GRU, dict(units=3, reset_after=False), {}),
    "gru_reset_before_sequences_states": (L.GRU, dict(units=3, reset_after=False, return_sequences=True, return_state=True), {}),
    "gru_reset_before_no_bias": (L.GRU, dict(units=2, reset_after=False, use_bias=False, return_sequences=True), {}),
    "gru_reset_before_linear_hard_sigmoid": (L.GRU, dict(units=3, reset_after=False, activation="linear", recurrent_activation="hard_sigmoid"), {}),
    "gru_reset_before_backwards_initial_state": (L.GRU, dict(units=3, reset_after=False, go_backwards=True, return_state=True),
                                                 dict(initial_state=True)),
    "gru_reset_before_mask": (L.GRU, dict(units=3, reset_after=False, return_sequences=True, return_state=True), dict(mask=MASK)),
    "batch_one_one_step": (L.LSTM, dict(units=2, return_sequences=True, return_state=True), dict(shape=(1, 1, 2))),
    # Final output and states only: the op returns the last step, its gradient reaches the
    # kernel at the last step only.
    "lstm_last_mask_initial_state": (L.LSTM, dict(units=3, return_state=True), dict(mask=MASK, initial_state=True)),
    "gru_last_mask_zero_output": (L.GRU, dict(units=3, zero_output_for_mask=True, return_state=True), dict(mask=MASK)),
    "simple_rnn_last_mask_backwards": (L.SimpleRNN, dict(units=3, go_backwards=True), dict(mask=MASK_INNER)),
}


def run_case(name, seed=0):
    cls, kwargs, options = CASES[name]
    shape = options.get("shape", (3, 5, 3))
    layer = cls(**kwargs)
    randomize(layer, shape, seed=seed + 1)
    initial_state = None
    if options.get("initial_state"):
        count = 2 if cls is L.LSTM else 1
        initial_state = [seeded((shape[0], kwargs["units"]), seed=seed + 10 + i) for i in range(count)]
    return check_rnn(layer, seeded(shape, seed), initial_state=initial_state, mask=options.get("mask"), seed=seed)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_gradients(case):
    outputs = run_case(case)
    cls, kwargs, options = CASES[case]
    batch, steps = options.get("shape", (3, 5, 3))[:2]
    units = kwargs["units"]
    assert outputs[0].shape == ((batch, steps, units) if kwargs.get("return_sequences") else (batch, units))
    for state in outputs[1:]:
        assert state.shape == (batch, units)


def test_return_state_last_output_is_the_hidden_state():
    x = seeded((2, 4, 3))
    for cls in (L.SimpleRNN, L.LSTM, L.GRU):
        layer = cls(3, return_state=True)
        out, h, *rest = layer(x)
        np.testing.assert_array_equal(out.numpy(), h.numpy())
        assert len(rest) == (1 if cls is L.LSTM else 0)
        sequences = cls.from_config({**layer.get_config(), "name": None, "return_sequences": True})
        sequences.build((None, 4, 3))
        sequences.set_weights(layer.get_weights())
        seq, h2, *_ = sequences(x)
        np.testing.assert_array_equal(seq.numpy()[:, -1], h.numpy())
        np.testing.assert_array_equal(h2.numpy(), h.numpy())


def test_fully_masked_row_outputs_zeros_and_zero_states():
    layer = L.LSTM(3, return_sequences=True, return_state=True)
    randomize(layer, (2, 4, 2))
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], dtype=bool)
    seq, h, c = check_rnn(layer, seeded((2, 4, 2)), mask=mask)
    np.testing.assert_array_equal(seq[1], 0.0)
    np.testing.assert_array_equal(h[1], 0.0)
    np.testing.assert_array_equal(c[1], 0.0)



@pytest.mark.parametrize("go_backwards", [False, True])
def test_leading_masked_steps_with_initial_state_output_zeros(go_backwards):
    layer = L.LSTM(2, return_sequences=True, go_backwards=go_backwards)
    randomize(layer, (2, 4, 3))
    mask = np.array([[0, 0, 1, 1], [1, 1, 0, 0]], dtype=bool)  # row 0 (forwards), row 1 (backwards) start on padding
    init = [seeded((2, 2), seed=5), seeded((2, 2), seed=6)]
    check_rnn(layer, seeded((2, 4, 3)), initial_state=init, mask=mask, grad=False)


def test_fully_masked_row_with_initial_state_outputs_zeros_and_keeps_the_state():
    layer = L.GRU(3, return_state=True)
    randomize(layer, (2, 4, 2))
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], dtype=bool)
    init = [seeded((2, 3), seed=5)]
    out, h = layer(seeded((2, 4, 2)), initial_state=init, mask=mask)
    np.testing.assert_array_equal(h.numpy()[1], init[0][1])  # the state is carried through
    np.testing.assert_array_equal(out.numpy()[1], 0.0)  # Keras TF/torch: no real step, zero output


def test_zero_output_for_mask_last_output_of_a_row_ending_on_padding():
    layer = L.LSTM(2, zero_output_for_mask=True, return_state=True)
    randomize(layer, (2, 4, 3))
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    out, h, _ = layer(seeded((2, 4, 3)), mask=mask)
    np.testing.assert_array_equal(out.numpy()[0], 0.0)  # keras: last_output = outputs[-1], zeroed at a masked step
    assert np.all(h.numpy()[0] != 0.0)  # the state is carried from step 2
    check_rnn(layer, seeded((2, 4, 3)), mask=mask)


def test_long_sequence_matches_reference():
    """40 steps, wider layers: the fused kernel's GEMMs against the step loop (forward only)."""
    for cls, kwargs in ((L.LSTM, {}), (L.GRU, {}), (L.GRU, dict(reset_after=False)), (L.SimpleRNN, {})):
        layer = cls(16, return_sequences=True, return_state=True, **kwargs)
        randomize(layer, (4, 40, 9), scale=0.3)
        check_rnn(layer, seeded((4, 40, 9)), initial_state=[seeded((4, 16), seed=3)] * (2 if cls is L.LSTM else 1),
                  mask=np.arange(40)[None, :] < np.array([[40], [31], [7], [1]]), grad=False)


# ---- Keras-layout weights ------------------------------------------------------------------------

@pytest.mark.parametrize("cell,reset_after", [("simple_rnn", True), ("lstm", True), ("gru", True), ("gru", False)])
def test_keras_layout_weights_give_the_reference(cell, reset_after):
    generator = np.random.default_rng(7)
    features, units = 3, 4
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    kernel = generator.normal(0, 0.5, size=(features, gates * units)).astype(np.float32)
    recurrent = generator.normal(0, 0.5, size=(units, gates * units)).astype(np.float32)
    bias_shape = (2, gates * units) if cell == "gru" and reset_after else (gates * units,)
    bias = generator.normal(0, 0.5, size=bias_shape).astype(np.float32)
    layer = {"simple_rnn": lambda: L.SimpleRNN(units, return_sequences=True),
             "lstm": lambda: L.LSTM(units, return_sequences=True),
             "gru": lambda: L.GRU(units, reset_after=reset_after, return_sequences=True)}[cell]()
    model = fn.Sequential([fn.Input((5, features)), layer])
    assert [w.shape for w in layer.get_weights()] == [kernel.shape, recurrent.shape, bias.shape]
    model.set_weights([kernel, recurrent, bias])
    x = generator.normal(size=(2, 5, features)).astype(np.float32)
    expected, _ = ref.rnn(cell, x, kernel, recurrent, bias, reset_after=reset_after)
    assert_close(model.predict(x, verbose=0), expected, BALANCED, what=f"{cell} with Keras-layout weights")
    for got, sent in zip(layer.get_weights(), (kernel, recurrent, bias)):
        np.testing.assert_array_equal(got, sent)


def test_weight_shapes_and_lstm_unit_forget_bias():
    lstm = L.LSTM(3, bias_initializer="zeros")
    lstm.build((None, 5, 2))
    kernel, recurrent, bias = lstm.get_weights()
    assert (kernel.shape, recurrent.shape, bias.shape) == ((2, 12), (3, 12), (12,))
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # i, f, c, o
    lstm = L.LSTM(3, bias_initializer=fn.initializers.Constant(0.5), unit_forget_bias=False)
    lstm.build((None, 5, 2))
    np.testing.assert_array_equal(lstm.get_weights()[2], np.full(12, 0.5))
    lstm = L.LSTM(3, bias_initializer=fn.initializers.Constant(0.5))
    lstm.build((None, 5, 2))
    np.testing.assert_array_equal(lstm.get_weights()[2], np.r_[np.full(3, 0.5), np.ones(3), np.full(6, 0.5)])
    for reset_after, bias_shape in ((True, (2, 9)), (False, (9,))):
        gru = L.GRU(3, reset_after=reset_after)
        gru.build((None, 5, 2))
        assert [w.shape for w in gru.get_weights()] == [(2, 9), (3, 9), bias_shape]
    rnn = L.SimpleRNN(3, use_bias=False)
    rnn.build((None, 5, 2))
    assert [w.shape for w in rnn.get_weights()] == [(2, 3), (3, 3)]


def test_recurrent_initializer_is_orthogonal():
    layer = L.LSTM(4)
    layer.build((None, 3, 2))
    recurrent = layer.get_weights()[1]  # (4, 16): orthonormal rows, as Keras's Orthogonal
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)


# ---- stateful --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
def test_stateful_continues_the_state_and_reset_restarts(cls):
    x = seeded((2, 6, 3))
    whole = cls(3, return_sequences=True)
    randomize(whole, x.shape)
    expected = whole(x).numpy()
    stateful = cls(3, return_sequences=True, stateful=True)
    stateful.build((None, 3, 3))
    stateful.set_weights(whole.get_weights())
    assert stateful.states is None
    first = stateful(x[:, :3]).numpy()
    second = stateful(x[:, 3:]).numpy()
    assert_close(np.concatenate([first, second], axis=1), expected, BALANCED, what="two stateful calls")
    assert_close(stateful.states[0], expected[:, -1], BALANCED, what="carried h")
    stateful.reset_states()
    assert_close(stateful(x[:, :3]).numpy(), expected[:, :3], BALANCED, what="after reset_states")
    check_raises(ValueError, lambda: stateful(x[:1, 3:]), stateful.name, "batch of 2", "(1, 3, 3)", "reset_states")
    stateful.reset_states()
    assert stateful(x[:1, 3:]).shape == (1, 3, 3)  # a new batch size after a reset


def test_stateful_lstm_in_a_model_carries_across_predict_calls():
    x = seeded((2, 4, 3))
    model = fn.Sequential([fn.Input((4, 3), batch_size=2), L.LSTM(3, stateful=True)])
    first = model.predict(x, verbose=0)
    second = model.predict(x, verbose=0)
    assert not np.allclose(first, second)
    model.layers[0].reset_states()
    np.testing.assert_allclose(model.predict(x, verbose=0), first, rtol=1e-6, atol=1e-7)


def test_stateful_with_initial_state_overrides_the_carried_state():
    layer = L.GRU(2, stateful=True, return_state=True)
    x = seeded((2, 3, 3))
    layer(x)
    init = seeded((2, 2), seed=4)
    _, h = layer(x, initial_state=[init])
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    _, (expected,) = ref.rnn("gru", x, *weights, initial_state=[init])
    assert_close(h.numpy(), expected, BALANCED, what="stateful GRU with an explicit initial state")


# ---- dropout -----------------------------------------------------------------------------------------

def _twins(cls, **kwargs):
    a, b = cls(3, seed=11, **kwargs), cls(3, seed=11, **kwargs)
    randomize(a, (2, 4, 3))
    b.build((None, 4, 3))
    b.set_weights(a.get_weights())
    return a, b


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
@pytest.mark.parametrize("rates", [dict(dropout=0.5), dict(recurrent_dropout=0.5), dict(dropout=0.3, recurrent_dropout=0.3)])
def test_dropout_acts_in_training_only_and_follows_the_seed(cls, rates):
    x = seeded((2, 4, 3))
    a, b = _twins(cls, return_sequences=True, **rates)
    plain = cls(3, return_sequences=True)
    plain.build((None, 4, 3))
    plain.set_weights(a.get_weights())
    expected = plain(x).numpy()
    np.testing.assert_array_equal(a(x).numpy(), expected)  # inference: no dropout
    np.testing.assert_array_equal(a(x, training=False).numpy(), expected)
    first = a(x, training=True).numpy()
    assert np.abs(first - expected).max() > 1e-3, "dropout changed nothing in training"
    np.testing.assert_array_equal(b(x, training=True).numpy(), first)  # same seed, same masks
    assert np.abs(a(x, training=True).numpy() - first).max() > 1e-4, "the second training call reused the masks"


def test_input_dropout_mask_is_drawn_once_per_sequence():
    """Linear SimpleRNN, identity kernel, zero recurrent kernel and bias: h_t = dropout(x_t), so
    h_t / x_t is the mask, the same at every timestep and in {0, 1 / (1 - rate)}."""
    units, rate = 6, 0.5
    layer = L.SimpleRNN(units, activation="linear", dropout=rate, return_sequences=True, seed=3)
    layer.build((None, 5, units))
    layer.set_weights([np.eye(units, dtype=np.float32), np.zeros((units, units), np.float32), np.zeros(units, np.float32)])
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(4, 5, units)).astype(np.float32)
    scale = layer(x, training=True).numpy() / x
    assert_close(scale, np.broadcast_to(scale[:, :1], scale.shape), what="one input mask per sequence")
    assert np.all(np.isclose(scale, 0.0) | np.isclose(scale, 1.0 / (1.0 - rate)))
    assert 0 < np.isclose(scale[:, 0], 0.0).sum() < scale[:, 0].size


def test_recurrent_dropout_mask_is_drawn_once_per_sequence():
    """Linear SimpleRNN, identity kernels, x = 1: h_1 = 1, h_2 = 1 + m, h_3 = 1 + m (1 + m)."""
    units, rate = 8, 0.5
    layer = L.SimpleRNN(units, activation="linear", recurrent_dropout=rate, return_sequences=True, seed=5)
    layer.build((None, 3, units))
    layer.set_weights([np.eye(units, dtype=np.float32), np.eye(units, dtype=np.float32), np.zeros(units, np.float32)])
    h = layer(np.ones((4, 3, units), np.float32), training=True).numpy()
    m = h[:, 1] - 1.0
    assert np.all(np.isclose(m, 0.0) | np.isclose(m, 1.0 / (1.0 - rate)))
    assert_close(h[:, 0], np.ones((4, units)))
    assert_close(h[:, 2], 1.0 + m * (1.0 + m), what="the recurrent mask is reused at every step")
    # and it matches the reference's rec_mask path
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    expected, _ = ref.rnn("simple_rnn", np.ones((4, 3, units)), *weights, activation="linear", rec_mask=m)
    assert_close(h, expected, BALANCED, what="recurrent dropout vs reference rec_mask")


def test_dropout_gradients_flow_in_training():
    layer = L.LSTM(3, dropout=0.3, recurrent_dropout=0.3, seed=1)
    randomize(layer, (2, 4, 3))
    x = fn.tensor(seeded((2, 4, 3)), requires_grad=True)
    layer(x, training=True).sum().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.numpy()))
    for w in layer._ordered_weights():
        assert w.grad is not None and np.abs(w.grad.numpy()).sum() > 0

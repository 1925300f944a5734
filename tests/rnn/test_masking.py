"""Timestep masks: a padded batch gives, at every real step and at the end, what each sequence
gives alone (Embedding(mask_zero) -> LSTM, Masking -> GRU, Bidirectional, stacked layers, pre- and
post-padding); Keras's zero_output_for_mask rules; the Masking layer's output and mask; how masks
travel through the layer chain."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import BALANCED, assert_close
from . import reference as ref
from .common import check_rnn, padded_batch, randomize, seeded

L = fn.layers

SEQUENCES = [[3, 1, 4, 1, 5], [9, 2], [6, 5, 3], [7]]
WIDTH = 6


def _one_by_one(model, sequences):
    return [model.predict(np.array([s]), verbose=0)[0] for s in sequences]


def _pad(sequences, pre):
    if not pre:
        return padded_batch(sequences, WIDTH)
    return padded_batch([s[::-1] for s in sequences], WIDTH)[:, ::-1].copy()


@pytest.mark.parametrize("pre", [False, True], ids=["post_padding", "pre_padding"])
def test_embedding_mask_zero_lstm_padded_batch_equals_sequences_alone(pre):
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True, embeddings_initializer="glorot_uniform"),
                           L.LSTM(4, return_sequences=True)])
    last = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True), L.LSTM(4)])
    last.set_weights(model.get_weights())
    batch = _pad(SEQUENCES, pre)
    sequences_out = model.predict(batch, verbose=0)
    last_out = last.predict(batch, verbose=0)
    for i, (seq, alone) in enumerate(zip(SEQUENCES, _one_by_one(model, SEQUENCES))):
        real = np.flatnonzero(batch[i])
        assert_close(sequences_out[i, real], alone, BALANCED, what=f"sequence {i}: outputs at its real steps")
        assert_close(last_out[i], alone[-1], BALANCED, what=f"sequence {i}: final output")
        pads = np.flatnonzero(batch[i] == 0)
        # zero_output_for_mask=False: a padded step repeats the previous output (zeros before any real step)
        for t in pads:
            before = real[real < t]
            expected = sequences_out[i, before[-1]] if before.size else np.zeros(4)
            np.testing.assert_array_equal(sequences_out[i, t], expected)


def test_masking_gru_padded_batch_equals_sequences_alone():
    lengths = [5, 2, 3, 1]
    data = seeded((4, 5, 3), seed=3)
    for mask_value in (0.0, -1.0):
        batch = data.copy()
        for i, n in enumerate(lengths):
            batch[i, n:] = mask_value
        model = fn.Sequential([fn.Input((None, 3)), L.Masking(mask_value), L.GRU(3, return_state=False)])
        randomize(model.layers[1], (1, 5, 3))
        weights = [w.astype(np.float64) for w in model.layers[1].get_weights()]
        got = model.predict(batch, verbose=0)
        for i, n in enumerate(lengths):
            alone = model.predict(data[i:i + 1, :n], verbose=0)[0]
            assert_close(got[i], alone, BALANCED, what=f"mask_value={mask_value}, sequence {i}")
            expected, _ = ref.rnn("gru", data[i:i + 1, :n], *weights)
            assert_close(got[i], expected[0, -1], BALANCED, what=f"mask_value={mask_value}, sequence {i} vs reference")


@pytest.mark.parametrize("cell", [L.LSTM, L.GRU, L.SimpleRNN])
def test_bidirectional_padded_batch_equals_sequences_alone(cell):
    fn.utils.set_random_seed(1)
    seq_model = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True, embeddings_initializer="glorot_uniform"),
                               L.Bidirectional(cell(3, return_sequences=True))])
    last_model = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True), L.Bidirectional(cell(3), merge_mode="sum")])
    last_model.set_weights(seq_model.get_weights())
    batch = padded_batch(SEQUENCES, WIDTH)
    got_seq = seq_model.predict(batch, verbose=0)
    got_last = last_model.predict(batch, verbose=0)
    for i, s in enumerate(SEQUENCES):
        alone = seq_model.predict(np.array([s]), verbose=0)[0]
        n = len(s)
        assert_close(got_seq[i, :n], alone, BALANCED, what=f"sequence {i}: both directions at the real steps")
        # Bidirectional forces zero_output_for_mask with return_sequences: padded steps are zeros
        np.testing.assert_array_equal(got_seq[i, n:], 0.0)
        # final: the forward half's last real step plus the backward half's output at step 0
        assert_close(got_last[i], alone[-1, :3] + alone[0, 3:], BALANCED, what=f"sequence {i}: merged final outputs")


def test_bidirectional_forces_zero_output_for_mask_only_with_sequences():
    seq = L.Bidirectional(L.LSTM(2, return_sequences=True))
    assert seq.forward_layer.zero_output_for_mask and seq.backward_layer.zero_output_for_mask
    last = L.Bidirectional(L.LSTM(2))
    assert not last.forward_layer.zero_output_for_mask and not last.backward_layer.zero_output_for_mask


def test_stacked_recurrent_layers_pass_the_mask_on():
    """LSTM(return_sequences) passes its input mask on; the second layer must skip the same steps."""
    fn.utils.set_random_seed(2)
    model = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True, embeddings_initializer="glorot_uniform"),
                           L.LSTM(3, return_sequences=True), L.GRU(2, return_sequences=True), L.SimpleRNN(2)])
    batch = padded_batch(SEQUENCES, WIDTH)
    got = model.predict(batch, verbose=0)
    for i, alone in enumerate(_one_by_one(model, SEQUENCES)):
        assert_close(got[i], alone, BALANCED, what=f"sequence {i} through three stacked layers")


def test_time_distributed_passes_the_mask_on():
    fn.utils.set_random_seed(3)
    model = fn.Sequential([fn.Input((None,)), L.Embedding(10, 3, mask_zero=True), L.TimeDistributed(L.Dense(4, activation="tanh")),
                           L.LSTM(2)])
    batch = padded_batch(SEQUENCES, WIDTH)
    got = model.predict(batch, verbose=0)
    for i, alone in enumerate(_one_by_one(model, SEQUENCES)):
        assert_close(got[i], alone, BALANCED, what=f"sequence {i} after TimeDistributed")


def test_last_output_without_sequences_drops_the_mask():
    layer = L.LSTM(2)
    assert layer.compute_mask(None, np.ones((2, 3), bool)) is None
    mask = np.array([[True, False, True]])
    np.testing.assert_array_equal(L.GRU(2, return_sequences=True).compute_mask(None, mask), mask)
    np.testing.assert_array_equal(L.Bidirectional(L.GRU(2, return_sequences=True)).compute_mask(None, mask), mask)
    assert L.Bidirectional(L.GRU(2)).compute_mask(None, mask) is None
    np.testing.assert_array_equal(L.TimeDistributed(L.Dense(2)).compute_mask(None, mask), mask)


def test_explicit_mask_matches_reference_with_gradients():
    layer = L.GRU(3, reset_after=False, return_sequences=True, zero_output_for_mask=True)
    randomize(layer, (2, 5, 2))
    check_rnn(layer, seeded((2, 5, 2)), mask=np.array([[1, 0, 1, 1, 0], [1, 1, 1, 0, 0]], bool))


def test_float_and_int_masks_are_accepted():
    layer = L.LSTM(2, return_sequences=True)
    x = seeded((2, 4, 3))
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]])
    expected = layer(x, mask=mask.astype(bool)).numpy()
    np.testing.assert_array_equal(layer(x, mask=mask).numpy(), expected)
    np.testing.assert_array_equal(layer(x, mask=mask.astype(np.float32)).numpy(), expected)


# ---- the Masking layer ---------------------------------------------------------------------------

def test_masking_layer_output_and_mask():
    x = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]],
                  [[3.0, 3.0], [0.0, 0.0], [0.0, 0.0], [4.0, 0.0]]], np.float32)
    layer = L.Masking()
    expected_mask = np.array([[False, True, True, False], [True, False, False, True]])
    np.testing.assert_array_equal(layer.compute_mask(x), expected_mask)
    np.testing.assert_array_equal(layer(x).numpy(), x * expected_mask[..., None])
    y = x.copy()
    y[y == 0.0] = 7.0
    y[0, 1] = [7.0, 1.0]
    other = L.Masking(mask_value=7.0)
    np.testing.assert_array_equal(other.compute_mask(y), np.any(y != 7.0, axis=-1))
    np.testing.assert_array_equal(other(y).numpy(), y * np.any(y != 7.0, axis=-1)[..., None])  # padded steps become zeros


def test_masking_layer_gradient_is_the_mask():
    x = fn.tensor(np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 3.0]]], np.float32), requires_grad=True)
    L.Masking()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[0, 0], [1, 1], [1, 1]]])


def test_masking_in_a_model_reaches_the_recurrent_layer():
    x = seeded((2, 4, 3))
    x[0, 2:] = 0.0
    model = fn.Sequential([fn.Input((4, 3)), L.Masking(), L.SimpleRNN(3, return_sequences=True)])
    rnn = model.layers[1]
    weights = [w.astype(np.float64) for w in rnn.get_weights()]
    expected, _ = ref.rnn("simple_rnn", x, *weights, mask=np.any(x != 0, axis=-1))
    assert_close(model.predict(x, verbose=0), expected, BALANCED, what="Masking -> SimpleRNN")


def test_loss_of_a_sequence_output_leaves_padded_steps_out():
    """Keras's apply_mask: with a timestep mask on the output, the loss is the mean over real
    steps only, and what the padded steps predict does not matter."""
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((5,)), fn.layers.Embedding(7, 3, mask_zero=True), fn.layers.LSTM(4, return_sequences=True),
                           fn.layers.TimeDistributed(fn.layers.Dense(1))])
    model.compile(fn.optimizers.SGD(0.1), "mse")
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 0]], np.float32)
    y = np.arange(10, dtype=np.float32).reshape(2, 5, 1) / 10
    pred = model.predict(x, verbose=0)
    mask = x != 0
    per_step = ((pred - y) ** 2).mean(axis=-1)
    expected = per_step[mask].mean()
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)
    # Targets at padded steps change nothing.
    y2 = y.copy()
    y2[~mask] = 100.0
    np.testing.assert_allclose(model.evaluate(x, y2, verbose=0), expected, rtol=1e-5)


def test_metrics_of_a_sequence_output_leave_padded_steps_out():
    """As Keras: the output's timestep mask weights the metrics too (accuracy over real steps)."""
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((6,)), fn.layers.Embedding(9, 4, mask_zero=True), fn.layers.GRU(5, return_sequences=True),
                           fn.layers.TimeDistributed(fn.layers.Dense(3, activation="softmax"))])
    model.compile(fn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 0], [2, 2, 0, 0, 0, 0]], np.float32)
    y = np.array([[0, 1, 2, 0, 0, 0], [1, 1, 1, 2, 2, 0], [2, 0, 1, 1, 1, 1]], np.float32)
    pred = model.predict(x, verbose=0)
    mask = x != 0
    hits = pred.argmax(-1) == y
    _, accuracy = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(accuracy, hits[mask].mean(), rtol=1e-6)
    assert hits[mask].mean() != hits.mean()  # the padded steps would have changed it

"""End to end: Embedding + Bidirectional(LSTM) + Dense learns a generated sequence task with
`fit`; `predict` equals a direct call; recurrent regularizers add to the loss; frozen layers."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import BALANCED, assert_close
from .common import padded_batch, seeded

L = fn.layers


def _toy_task(n=96, width=7, seed=0):
    """Variable-length token sequences (1..9, zero-padded); label 1 when token 1 occurs before
    token 2 (an order the model must read along the sequence), else 0."""
    generator = np.random.default_rng(seed)
    sequences, labels = [], []
    for _ in range(n):
        length = int(generator.integers(3, width + 1))
        seq = list(generator.integers(3, 10, size=length))
        i, j = generator.choice(length, size=2, replace=False)
        seq[i], seq[j] = 1, 2
        sequences.append(seq)
        labels.append(float(i < j))
    return padded_batch(sequences, width), np.array(labels, np.float32)[:, None]


def test_embedding_bidirectional_lstm_dense_learns_a_toy_task():
    fn.utils.set_random_seed(0)
    x, y = _toy_task()
    model = fn.Sequential([fn.Input((x.shape[1],)), L.Embedding(10, 8, mask_zero=True), L.Bidirectional(L.LSTM(8)),
                           L.Dense(1, activation="sigmoid")])
    model.compile(fn.optimizers.Adam(0.02), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=12, shuffle=True, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.6 * losses[0], f"loss did not go down enough: {losses}"
    assert history.history["accuracy"][-1] > 0.8, history.history["accuracy"]


def test_stacked_gru_regression_with_masking_trains():
    fn.utils.set_random_seed(1)
    x = seeded((64, 6, 2), seed=5)
    lengths = np.random.default_rng(0).integers(2, 7, size=64)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    y = np.stack([x.sum(axis=(1, 2))], axis=1).astype(np.float32)  # the padding adds nothing
    model = fn.Sequential([fn.Input((6, 2)), L.Masking(), L.GRU(6, return_sequences=True), L.SimpleRNN(4, activation="linear"),
                           L.Dense(1)])
    model.compile(fn.optimizers.Adam(0.02), "mse")
    losses = model.fit(x, y, batch_size=16, epochs=10, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_predict_equals_a_direct_call():
    fn.utils.set_random_seed(2)
    model = fn.Sequential([fn.Input((5, 3)), L.LSTM(4, return_sequences=True), L.LSTM(3), L.Dense(2)])
    x = seeded((7, 5, 3))
    direct = model(x).numpy()
    assert_close(model.predict(x, verbose=0), direct, BALANCED, what="predict vs direct call")
    assert_close(model.predict(x, batch_size=3, verbose=0), direct, BALANCED, what="predict in batches of 3")
    layer_by_layer = model.layers[2](model.layers[1](model.layers[0](x))).numpy()
    assert_close(layer_by_layer, direct, BALANCED, what="layer by layer")


def test_dropout_model_trains_and_predicts_deterministically():
    fn.utils.set_random_seed(3)
    model = fn.Sequential([fn.Input((5, 3)), L.LSTM(4, dropout=0.2, recurrent_dropout=0.2), L.Dense(1)])
    x, y = seeded((32, 5, 3)), seeded((32, 1), seed=9)
    model.compile(fn.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_recurrent_regularizers_add_to_the_loss():
    x = np.ones((2, 3, 2), np.float32)
    y = np.zeros((2, 1), np.float32)
    kwargs = dict(kernel_initializer="ones", recurrent_initializer="ones", bias_initializer="ones")
    losses = []
    for regs in ({}, dict(kernel_regularizer=fn.regularizers.L2(0.5)), dict(recurrent_regularizer=fn.regularizers.L1(0.25)),
                 dict(bias_regularizer=fn.regularizers.L2(1.0))):
        model = fn.Sequential([fn.Input((3, 2)), L.GRU(2, **kwargs, **regs), L.Dense(1, kernel_initializer="zeros")])
        model.compile(fn.optimizers.SGD(0.0), "mse")
        losses.append(model.evaluate(x, y, verbose=0))
    assert losses[1] - losses[0] == pytest.approx(0.5 * 12, rel=1e-5)  # kernel (2, 6) of ones
    assert losses[2] - losses[0] == pytest.approx(0.25 * 12, rel=1e-5)  # recurrent (2, 6)
    assert losses[3] - losses[0] == pytest.approx(1.0 * 12, rel=1e-5)  # bias (2, 6) with reset_after


def test_frozen_recurrent_layer_does_not_train():
    fn.utils.set_random_seed(4)
    lstm = L.LSTM(3)
    model = fn.Sequential([fn.Input((4, 2)), lstm, L.Dense(1)])
    lstm.trainable = False
    before = lstm.get_weights()
    model.compile(fn.optimizers.SGD(0.5), "mse")
    model.fit(seeded((8, 4, 2)), seeded((8, 1), seed=1), epochs=2, verbose=0)
    for a, b in zip(before, lstm.get_weights()):
        np.testing.assert_array_equal(a, b)

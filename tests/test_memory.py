"""Training steps leave resident memory flat: every backward() frees its graph, and tensors that
borrow NumPy memory release it."""

import gc

import numpy as np
import psutil

import ferronet as fn

WARMUP_STEPS = 500
STEPS = 5000
MAX_GROWTH = 0.05  # RSS may grow at most 5% between the end of the warm-up and the end


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def test_training_steps_keep_memory_flat():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    params = {
        "w1": (rng.standard_normal((16, 32)) * 0.2).astype(np.float32),
        "b1": np.zeros(32, np.float32),
        "w2": (rng.standard_normal((32, 10)) * 0.2).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    losses = []

    def step():
        # Fresh zero-copy tensors over the NumPy parameters each step; updated in place below.
        t = {k: fn.tensor(v, requires_grad=True) for k, v in params.items()}
        h = fn.ops.relu(fn.ops.dense(x, t["w1"], t["b1"]))
        probs = fn.ops.softmax(fn.ops.dense(h, t["w2"], t["b2"]))
        loss = fn.ops.categorical_crossentropy(y, probs).mean()
        loss.backward()
        for k, v in params.items():
            v -= 0.05 * t[k].grad.numpy()
        return loss.item()

    for _ in range(WARMUP_STEPS):
        losses.append(step())
    before = rss()
    for _ in range(STEPS - WARMUP_STEPS):
        losses.append(step())
    after = rss()
    assert losses[-1] < losses[0]  # it trained
    growth = (after - before) / before
    assert growth <= MAX_GROWTH, f"RSS grew {growth:.1%}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB"


def test_forward_only_under_no_grad_keeps_memory_flat():
    x = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
    w = fn.tensor(np.random.default_rng(2).standard_normal((32, 32)).astype(np.float32), requires_grad=True)

    def step():
        with fn.no_grad():
            return fn.ops.sum(fn.ops.tanh(fn.ops.dense(x, w)) ** 2).item()

    for _ in range(WARMUP_STEPS):
        step()
    before = rss()
    for _ in range(STEPS - WARMUP_STEPS):
        step()
    after = rss()
    assert (after - before) / before <= MAX_GROWTH


def test_recurrent_training_keeps_memory_flat():
    """Sequence models (masks, Bidirectional, stateful carry, dropout masks) free each step's
    saved activations."""
    fn.utils.set_random_seed(0)
    L = fn.layers
    model = fn.Sequential([fn.Input((12,)), L.Embedding(30, 8, mask_zero=True), L.Bidirectional(L.LSTM(8, return_sequences=True)),
                           L.GRU(8, dropout=0.1, recurrent_dropout=0.1), L.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 30, (16, 12)), rng.integers(0, 2, 16)
    for _ in range(300):
        model.train_on_batch(x, y)
    before = rss()
    for _ in range(1500):
        model.train_on_batch(x, y)
    after = rss()
    growth = (after - before) / before
    assert growth <= MAX_GROWTH, f"RSS grew {growth:.1%}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB"

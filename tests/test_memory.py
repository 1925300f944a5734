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

"""Recurrent ops big enough to run in batch slices on several threads (each slice's whole time
loop on one thread) give the float64 reference's outputs, and the same gradients as the same
samples run in small, single-slice batches."""

import numpy as np
import pytest

import ferronet as fn
import ferronet._core as C

from ..helpers import BALANCED, assert_close, rng
from .reference import rnn

B, T, F, U = 64, 16, 8, 32  # B*T*U*gates*(U+F) >= 2**20: split across the workers
CELLS = [("simple_rnn", 1, {}), ("lstm", 4, {}), ("gru", 3, {"reset_after": True}), ("gru", 3, {"reset_after": False})]


def weights(g, extra, seed):
    generator = rng(seed)
    kernel = (generator.standard_normal((F, g * U)) * 0.3).astype(np.float32)
    recurrent = (generator.standard_normal((U, g * U)) * 0.3).astype(np.float32)
    bias = generator.standard_normal((2 * 3 * U if extra.get("reset_after") else g * U,)).astype(np.float32)
    return kernel, recurrent, bias


def run(cell, extra, x, kernel, recurrent, bias, mask, go_backwards):
    ts = [fn.tensor(v, requires_grad=True) for v in (x, kernel, recurrent, bias)]
    layer = C.RecurrentLayer.rnn("slices", cell, ts[1], ts[2], ts[3], dict(return_sequences=True, go_backwards=go_backwards, **extra))
    (y,), _ = layer.run(ts[0], mask=mask)
    weight = np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape)
    (y * fn.tensor(weight)).sum().backward()
    return y.numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("cell, g, extra", CELLS, ids=["simple_rnn", "lstm", "gru_after", "gru_before"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_sliced_batches_match_reference_and_small_batches(cell, g, extra, go_backwards):
    x = rng(1).standard_normal((B, T, F)).astype(np.float32)
    mask = (rng(2).random((B, T)) > 0.2).astype(np.float32)
    kernel, recurrent, bias = weights(g, extra, 3)
    y, grads = run(cell, extra, x, kernel, recurrent, bias, mask, go_backwards)
    bias_ref = bias.reshape(2, 3 * U) if extra.get("reset_after") else bias
    expected, _ = rnn(cell, x, kernel, recurrent, bias_ref, mask=mask, go_backwards=go_backwards, **extra)
    assert_close(y, expected, BALANCED, what=f"{cell} forward")
    # The same samples in batches of 8 (one slice each): per-sample input gradients equal, weight
    # gradients sum.
    weight = np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape)
    parts = []
    for i in range(0, B, 8):
        ts = [fn.tensor(v, requires_grad=True) for v in (x[i:i + 8], kernel, recurrent, bias)]
        layer = C.RecurrentLayer.rnn("small", cell, ts[1], ts[2], ts[3], dict(return_sequences=True, go_backwards=go_backwards, **extra))
        (yp,), _ = layer.run(ts[0], mask=mask[i:i + 8])
        (yp * fn.tensor(weight[i:i + 8])).sum().backward()
        parts.append([t.grad.numpy() for t in ts])
    np.testing.assert_allclose(grads[0], np.concatenate([p[0] for p in parts]), rtol=1e-4, atol=1e-5)
    for k in (1, 2, 3):
        np.testing.assert_allclose(grads[k], np.sum([p[k] for p in parts], axis=0), rtol=1e-3, atol=1e-4)


TRAIN_SCRIPT = """
import sys, numpy as np, ferronet as fn
L = fn.layers
fn.utils.set_random_seed(0)
m = fn.Sequential([fn.Input((16, 8)), L.LSTM(32, return_sequences=True), L.GRU(32), L.Dense(3, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.standard_normal((256, 16, 8)).astype(np.float32), rng.integers(0, 3, 256)
m.fit(x, y, batch_size=128, epochs=2, verbose=0)
np.save(sys.argv[1], np.concatenate([w.ravel() for w in m.get_weights()]))
"""


def test_training_is_bit_identical_on_one_and_two_threads(tmp_path):
    """A sample's recurrence runs in one slice whatever the slicing, and the weight gradients sum
    in a fixed order: the thread count does not change a single bit."""
    import os
    import subprocess
    import sys

    results = []
    for threads in (1, 2):
        path = tmp_path / f"w{threads}.npy"
        env = {**os.environ, "FERRONET_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(path)], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        results.append(np.load(path))
    np.testing.assert_array_equal(results[0], results[1])

"""matmul with NumPy semantics (2-D, batched with broadcast batch axes, 1-D operands, strided
operands from .T and slices) and the GEMM kernel on odd sizes against NumPy."""

import numpy as np
import pytest
from helpers import BALANCED, check_op, sample

import ferronet as fn

CASES = [
    ((3, 4), (4, 5)),
    ((1, 1), (1, 1)),
    ((2, 3, 4), (2, 4, 5)),  # batched
    ((2, 3, 4), (4, 5)),  # batch against a matrix
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # batch axes broadcast both ways
    ((4,), (4, 5)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((4,), (4,)),  # dot
    ((4,), (2, 4, 5)),  # vector @ batch
    ((2, 3, 4), (4,)),  # batch @ vector
    ((3, 0), (0, 5)),  # empty inner axis: zeros
    ((0, 4), (4, 5)),
]


@pytest.mark.parametrize("a, b", CASES, ids=[f"{a}@{b}" for a, b in CASES])
def test_matmul(a, b):
    check_op([a, b], np.matmul, fn.ops.matmul, tol=BALANCED)
    check_op([a, b], np.matmul, lambda x, y: x @ y, tol=BALANCED)


def test_matmul_transposed_operands():
    check_op([(5, 3), (4, 5)], lambda a, b: a.T @ b.T, lambda a, b: a.T @ b.T, tol=BALANCED)
    check_op([(3, 4), (4, 5)], np.matmul, fn.ops.matmul, transposed=[1], tol=BALANCED)
    check_op([(3, 4), (4, 5)], np.matmul, fn.ops.matmul, transposed=[0, 1], tol=BALANCED)
    check_op([(2, 5, 3), (2, 5, 4)], lambda a, b: np.swapaxes(a, 1, 2) @ b, lambda a, b: a.transpose(0, 2, 1) @ b, tol=BALANCED)


def test_matmul_sliced_operands():
    check_op([(6, 8), (8, 5)], lambda a, b: a[::2, 1:5] @ b[2:6], lambda a, b: a[::2, 1:5] @ b[2:6], tol=BALANCED)
    check_op([(6, 8), (8, 5)], lambda a, b: a[::-1] @ b[:, ::-2], lambda a, b: a[::-1] @ b[:, ::-2], tol=BALANCED)
    check_op([(4, 6), (6,)], lambda a, v: a @ v[::-1], lambda a, v: a @ v[::-1], tol=BALANCED)


def test_matmul_with_arrays_on_either_side():
    a, b = sample((3, 4)), sample((4, 2), seed=1)
    expected = a.astype(np.float64) @ b
    np.testing.assert_allclose((fn.tensor(a) @ b).numpy(), expected, rtol=1e-5, atol=1e-6)
    out = a @ fn.tensor(b)
    assert isinstance(out, fn.Tensor)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def assert_gemm_close(actual, a, b):
    # A float32 GEMM's error grows with k: bound it relative to |A| @ |B| (the scale of the
    # products summed), not to the possibly cancelling result. 1e-5 is ~100 float32 ulps.
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = a64 @ b64
    scale = np.abs(a64) @ np.abs(b64)
    err = np.abs(actual.astype(np.float64) - expected) / np.maximum(scale, 1e-30)
    assert err.max() <= 1e-5, f"relative error {err.max():.3g}"


@pytest.mark.parametrize("n", [1, 7, 63, 65, 257, 1000])
def test_gemm_square_sizes(n):
    a, b = sample((n, n), seed=n), sample((n, n), seed=n + 1)
    assert_gemm_close(fn.ops.matmul(a, b).numpy(), a, b)


@pytest.mark.parametrize("m, k, n", [(1, 1000, 1), (7, 63, 65), (65, 257, 7), (257, 1, 63), (1000, 7, 1), (63, 65, 257)])
def test_gemm_rectangular_sizes(m, k, n):
    a, b = sample((m, k), seed=m), sample((k, n), seed=n)
    assert_gemm_close(fn.ops.matmul(a, b).numpy(), a, b)


@pytest.mark.parametrize("n", [7, 65, 257])
def test_gemm_transposed_operands(n):
    a, b = sample((n + 3, n), seed=1), sample((n + 1, n + 3), seed=2)
    ta, tb = fn.tensor(a), fn.tensor(b)
    assert_gemm_close((ta.T @ tb.T).numpy(), a.T, b.T)
    assert_gemm_close((ta.T @ fn.tensor(np.ascontiguousarray(b.T))).numpy(), a.T, b.T)
    assert_gemm_close((fn.tensor(np.ascontiguousarray(a.T)) @ tb.T).numpy(), a.T, b.T)


def test_gemm_large_gradient():
    # Gradients through the parallel GEMM path (m*n*k above the threshold).
    a = fn.tensor(sample((130, 129), seed=1), requires_grad=True)
    b = fn.tensor(sample((129, 131), seed=2), requires_grad=True)
    w = sample((130, 131), seed=3)
    ((a @ b) * w).sum().backward()
    assert_gemm_close(a.grad.numpy(), w, b.numpy().T)
    assert_gemm_close(b.grad.numpy(), a.numpy().T, w)


def test_batched_gemm_large():
    a, b = sample((4, 65, 63), seed=5), sample((63, 66), seed=6)
    out = fn.ops.matmul(a, b).numpy()
    for i in range(4):
        assert_gemm_close(out[i], a[i], b)

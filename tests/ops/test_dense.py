"""The fused dense op `activation(x @ kernel + bias)`: every activation, with and without bias,
2-D and 3-D inputs, strided operands, gradients for x, kernel and bias, and agreement with the
same graph built from separate ops."""

import numpy as np
import pytest
from helpers import BALANCED, NP_ACTIVATIONS, check_op, sample

import ferronet as fn

ACTIVATIONS = sorted(NP_ACTIVATIONS)


def reference(activation):
    act = NP_ACTIVATIONS[activation]

    def ref(x, kernel, bias=None):
        z = x @ kernel
        if bias is not None:
            z = z + bias
        return act(z)

    return ref


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("x_shape", [(6, 4), (2, 3, 4), (4,)], ids=["2d", "3d", "1d"])
def test_dense(activation, x_shape):
    ref = reference(activation)
    call = lambda x, k, b=None: fn.ops.dense(x, k, b, activation=activation)  # noqa: E731
    check_op([x_shape, (4, 5), (5,)], ref, call, tol=BALANCED)
    check_op([x_shape, (4, 5)], ref, call, tol=BALANCED)


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax", "tanh"])
def test_dense_strided_operands(activation):
    ref = reference(activation)
    call = lambda x, k, b: fn.ops.dense(x, k, b, activation=activation)  # noqa: E731
    # Transposed kernel and input (views read through their strides).
    check_op([(6, 4), (4, 5), (5,)], ref, call, transposed=[0, 1], tol=BALANCED)
    # Sliced inputs and kernels (negative strides too), 2-D and 3-D.
    check_op([(6, 4), (4, 5), (5,)], lambda x, k, b: ref(x[::-1], k[::-1, ::-1], b), lambda x, k, b: call(x[::-1], k[::-1, ::-1], b), tol=BALANCED)
    check_op([(8, 4), (4, 5), (5,)], lambda x, k, b: ref(x[1::2], k, b), lambda x, k, b: call(x[1::2], k, b), tol=BALANCED)
    check_op([(3, 6, 4), (4, 5), (5,)], lambda x, k, b: ref(x[:, ::-1], k, b), lambda x, k, b: call(x[:, ::-1], k, b), tol=BALANCED)
    check_op([(3, 4, 6), (6, 5), (5,)], lambda x, k, b: ref(x[1:], k, b), lambda x, k, b: call(x[1:], k, b), tol=BALANCED)


def test_dense_default_activation_is_linear():
    x, k, b = sample((3, 4)), sample((4, 2), seed=1), sample((2,), seed=2)
    np.testing.assert_allclose(fn.ops.dense(x, k, b).numpy(), x @ k + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fn.ops.dense(x, k).numpy(), x @ k, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "gelu", "softmax", "hard_sigmoid", "elu"])
def test_dense_matches_unfused_graph(activation):
    x0, k0, b0 = sample((5, 4)), sample((4, 3), seed=1), sample((3,), seed=2)
    grads = []
    for fused in (True, False):
        x, k, b = (fn.tensor(v, requires_grad=True) for v in (x0, k0, b0))
        if fused:
            y = fn.ops.dense(x, k, b, activation=activation)
        else:
            y = getattr(fn.ops, activation)(x @ k + b)
        (y * sample((5, 3), seed=9)).sum().backward()
        grads.append([y.numpy(), x.grad.numpy(), k.grad.numpy(), b.grad.numpy()])
    for fused, unfused in zip(*grads):
        np.testing.assert_allclose(fused, unfused, rtol=BALANCED.rtol, atol=BALANCED.atol)


def test_dense_large_takes_the_parallel_paths():
    # Output above the row-parallel threshold (32768 elements).
    x, k, b = sample((300, 64)), sample((64, 130), seed=1), sample((130,), seed=2)
    tx, tk, tb = (fn.tensor(v, requires_grad=True) for v in (x, k, b))
    y = fn.ops.dense(tx, tk, tb, activation="relu")
    z = x.astype(np.float64) @ k + b
    np.testing.assert_allclose(y.numpy(), np.maximum(z, 0), rtol=BALANCED.rtol, atol=1e-4)
    y.sum().backward()
    mask = (z > 0).astype(np.float64)
    np.testing.assert_allclose(tb.grad.numpy(), mask.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(tk.grad.numpy(), x.T.astype(np.float64) @ mask, rtol=BALANCED.rtol, atol=1e-3)
    np.testing.assert_allclose(tx.grad.numpy(), mask @ k.T.astype(np.float64), rtol=BALANCED.rtol, atol=1e-3)


def test_dense_only_bias_requires_grad():
    b = fn.tensor(np.zeros(3, np.float32), requires_grad=True)
    fn.ops.dense(np.ones((4, 2)), np.ones((2, 3)), b, activation="sigmoid").sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 4 * 0.8807970779778823 * (1 - 0.8807970779778823)), rtol=1e-5)


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax"])
def test_dense_empty_batch_and_no_features(activation):
    ref = reference(activation)
    call = lambda x, k, b: fn.ops.dense(x, k, b, activation=activation)  # noqa: E731
    check_op([(0, 4), (4, 3), (3,)], ref, call, tol=BALANCED)
    check_op([(2, 0), (0, 3), (3,)], ref, call, tol=BALANCED)  # no input features: bias only
    check_op([(2, 5, 0), (0, 3), (3,)], ref, call, tol=BALANCED)

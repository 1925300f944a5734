"""Reductions: sum, mean, max over None, one axis, several axes, negative axes, with and without
keepdims; through `fn.ops` and the Tensor methods. Sums accumulate in float32: BALANCED."""

import numpy as np
import pytest
from helpers import BALANCED, check_op, sample

import ferronet as fn

AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2), ()]


def check_reduce(np_fn, op, method):
    for axis in AXES:
        for keepdims in (False, True):
            ref = lambda x: np_fn(x, axis=axis, keepdims=keepdims)  # noqa: E731
            check_op([(3, 4, 5)], ref, lambda x: op(x, axis=axis, keepdims=keepdims), tol=BALANCED)
            check_op([(3, 4, 5)], ref, lambda x: getattr(x, method)(axis=axis, keepdims=keepdims), tol=BALANCED, grad=False)
    # Big, scalar, empty-free 1-D, transposed (strided) input.
    check_op([(45, 65)], lambda x: np_fn(x, axis=0), lambda x: op(x, axis=0), tol=BALANCED)
    check_op([(45, 65)], lambda x: np_fn(x), lambda x: op(x), tol=BALANCED)
    check_op([()], lambda x: np_fn(x), lambda x: op(x), tol=BALANCED)
    check_op([(7,)], lambda x: np_fn(x, axis=0, keepdims=True), lambda x: op(x, axis=0, keepdims=True), tol=BALANCED)
    check_op([(5, 8)], lambda x: np_fn(x, axis=1), lambda x: op(x, axis=1), tol=BALANCED, transposed=[0])
    # Empty input reduced along its non-empty axis; special values (forward only).
    check_op([(0, 3)], lambda x: np_fn(x, axis=1), lambda x: op(x, axis=1), tol=BALANCED)
    specials = np.array([[np.inf, 1.0], [-np.inf, 2.0], [np.nan, 3.0], [np.inf, -np.inf]], np.float32)
    with np.errstate(all="ignore"):
        for axis in (None, 0, 1):
            check_op([specials.shape], lambda x: np_fn(x, axis=axis), lambda x: op(x, axis=axis), vals=[specials], grad=False)


def test_sum():
    check_reduce(np.sum, fn.ops.sum, "sum")


def test_sum_of_empty_axes_is_zero():
    np.testing.assert_array_equal(fn.ops.sum(np.zeros((0, 3)), axis=0).numpy(), np.zeros(3))
    np.testing.assert_array_equal(fn.ops.sum(np.zeros((0, 3))).numpy(), 0.0)
    assert fn.ops.sum(np.zeros((2, 3, 0)), axis=1).shape == (2, 0)
    x = fn.tensor(np.zeros((0, 3)), requires_grad=True)
    fn.ops.sum(x, axis=1).sum().backward()
    assert x.grad.shape == (0, 3)


def test_sum_large_is_accurate():
    # Above the parallel threshold; compare with float64 within BALANCED.
    x = sample((513, 257), seed=3)
    for axis in (None, 0, 1):
        np.testing.assert_allclose(fn.ops.sum(x, axis=axis).numpy(), x.astype(np.float64).sum(axis=axis), rtol=BALANCED.rtol, atol=1e-3)


def test_mean():
    check_reduce(np.mean, fn.ops.mean, "mean")


def test_mean_of_empty_is_nan():
    with np.errstate(all="ignore"):
        assert np.isnan(fn.ops.mean(np.zeros((0,))).item())


def test_max():
    # Continuous random values: no ties, and finite differences (eps 1e-6) never swap the maximum.
    check_reduce(np.max, fn.ops.max, "max")


def test_max_gradient_goes_to_first_maximum():
    x = fn.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    fn.ops.max(x, axis=1).sum().backward()
    assert x.grad.numpy().tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_max_propagates_nan():
    assert np.isnan(fn.ops.max([1.0, np.nan, 2.0]).item())
    assert fn.ops.max([-np.inf, -np.inf]).item() == -np.inf


def test_reduce_axis_given_as_list():
    x = sample((2, 3, 4))
    np.testing.assert_allclose(fn.ops.sum(x, axis=[0, 2]).numpy(), x.sum(axis=(0, 2)), rtol=1e-6)


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduce_chain_gradient(name):
    # A reduction inside a larger graph: mean of (max over axis 1) of x * 2.
    ref = {"sum": np.sum, "mean": np.mean, "max": np.max}[name]
    op = getattr(fn.ops, name)
    check_op([(4, 6)], lambda x: np.mean(ref(x * 2.0, axis=1) ** 2), lambda x: fn.ops.mean(op(x * 2.0, axis=1) ** 2), tol=BALANCED)

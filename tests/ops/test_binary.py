"""Broadcasting binary ops: add, subtract, multiply, divide, power. Each op on every broadcast
pattern (same shape, row, column, scalar, both-sided (3,1)x(1,4), 3-D, 0-size), in both operand
orders, through the op and its Python operator, with a transposed operand."""

import numpy as np
import pytest
from helpers import SPECIALS, check_op

import ferronet as fn

BROADCASTS = [
    ((4, 5), (4, 5)),  # same shape
    ((4, 5), (5,)),  # row
    ((4, 5), (1, 5)),  # row, kept axis
    ((4, 5), (4, 1)),  # column
    ((4, 5), ()),  # scalar
    ((3, 1), (1, 4)),  # both sides
    ((2, 3, 4), (3, 1)),  # 3-D against a column
    ((2, 1, 4), (3, 1)),  # 3-D, both sides
    ((45, 65), (65,)),
    ((), ()),
    ((0, 3), (3,)),
]


def check_binary(ref, op, operator=None, **kw):
    for a, b in BROADCASTS:
        check_op([a, b], ref, op, **kw)
        check_op([b, a], ref, op, **kw)
        if operator is not None:
            check_op([a, b], ref, operator, **kw)
    check_op([(5, 8), (5, 8)], ref, op, transposed=[0], **kw)
    check_op([(5, 8), (5, 1)], ref, op, transposed=[1], **kw)


def check_specials(ref, op):
    a = np.repeat(SPECIALS, SPECIALS.size)
    b = np.tile(SPECIALS, SPECIALS.size)
    with np.errstate(all="ignore"):
        check_op([a.shape, b.shape], ref, op, vals=[a, b], grad=False)


def test_add():
    check_binary(np.add, fn.ops.add, lambda a, b: a + b)
    check_specials(np.add, fn.ops.add)


def test_subtract():
    check_binary(np.subtract, fn.ops.subtract, lambda a, b: a - b)
    check_specials(np.subtract, fn.ops.sub)
    assert fn.ops.sub is fn.ops.subtract


def test_multiply():
    check_binary(np.multiply, fn.ops.multiply, lambda a, b: a * b)
    check_specials(np.multiply, fn.ops.mul)


def test_divide():
    # Denominators kept away from 0, where the gradient -a/b^2 explodes.
    check_binary(np.divide, fn.ops.divide, lambda a, b: a / b, low=0.5, high=2.0)
    check_op([(4, 5), (4, 1)], np.divide, fn.ops.div, low=-2.0, high=-0.5)
    check_specials(np.divide, fn.ops.div)


def test_divide_by_zero_is_ieee():
    out = fn.ops.divide([1.0, -1.0, 0.0], 0.0).numpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


def test_power():
    # Bases > 0 so the exponent's gradient a^b ln(a) is defined.
    check_binary(np.power, fn.ops.power, lambda a, b: a ** b, low=0.3, high=2.0)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_with_python_scalars_and_arrays(name):
    a = np.array([[0.5, 1.5], [2.0, 0.25]], np.float32)
    b = np.array([1.5, 0.5], np.float32)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}[name]
    op = getattr(fn.ops, name)
    np.testing.assert_allclose(op(a, b).numpy(), ref(a, b), rtol=1e-6)
    np.testing.assert_allclose(op(fn.tensor(a), 2.0).numpy(), ref(a, np.float32(2.0)), rtol=1e-6)
    np.testing.assert_allclose(op(2.0, fn.tensor(a)).numpy(), ref(np.float32(2.0), a), rtol=1e-6)
    np.testing.assert_allclose(op([[1, 2], [3, 4]], b).numpy(), ref(np.array([[1, 2], [3, 4]], np.float32), b), rtol=1e-6)


def test_broadcast_gradient_sums_over_repeated_axes():
    a = fn.tensor(np.ones((3, 1), np.float32), requires_grad=True)
    b = fn.tensor(np.ones((1, 4), np.float32), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
    assert a.grad.numpy().ravel().tolist() == [4.0] * 3
    assert b.grad.numpy().ravel().tolist() == [3.0] * 4


def test_large_broadcast_takes_the_parallel_paths():
    # Above the kernels' parallel threshold (32768 elements): same results as NumPy.
    a = np.random.default_rng(0).standard_normal((300, 257)).astype(np.float32)
    row = np.random.default_rng(1).standard_normal(257).astype(np.float32)
    col = np.random.default_rng(2).standard_normal((300, 1)).astype(np.float32)
    np.testing.assert_allclose(fn.ops.add(a, row).numpy(), a + row, rtol=1e-6)
    np.testing.assert_allclose(fn.ops.multiply(a, col).numpy(), a * col, rtol=1e-6)
    t = fn.tensor(row, requires_grad=True)
    (fn.ops.add(a, t) * 2.0).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.full(257, 600.0), rtol=1e-5)

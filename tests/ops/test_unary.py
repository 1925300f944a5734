"""Elementwise unary ops: exp, log, sqrt, square, abs, neg, clip, pow (scalar and tensor
exponents). Each op: seeded values on every shape in SHAPES (forward + finite-difference
gradients), a transposed input, and the special values inf, -inf, nan."""

import numpy as np
import pytest
from helpers import SHAPES, SPECIALS, STRICT, check_op, sample

import ferronet as fn


def check_unary(ref, op, low=-2.0, high=2.0, avoid=(), specials=True):
    for shape in SHAPES:
        check_op([shape], ref, op, low=low, high=high, avoid=avoid)
    check_op([(5, 8)], ref, op, low=low, high=high, avoid=avoid, transposed=[0])
    if specials:
        with np.errstate(all="ignore"):
            check_op([SPECIALS.shape], ref, op, vals=[SPECIALS], grad=False)


def test_exp():
    check_unary(np.exp, fn.ops.exp, low=-3, high=3)


def test_log():
    check_unary(np.log, fn.ops.log, low=0.1, high=4)


def test_log_of_zero_and_negative_is_like_numpy():
    out = fn.ops.log([0.0, -1.0]).numpy()
    assert out[0] == -np.inf and np.isnan(out[1])


def test_sqrt():
    check_unary(np.sqrt, fn.ops.sqrt, low=0.1, high=4)


def test_square():
    check_unary(np.square, fn.ops.square)


def test_abs():
    check_unary(np.abs, fn.ops.abs, avoid=(0.0,))
    assert fn.ops.absolute is fn.ops.abs


def test_abs_gradient_at_zero_is_zero():
    x = fn.tensor([0.0, -2.0, 3.0], requires_grad=True)
    fn.ops.abs(x).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, -1.0, 1.0]


def test_neg():
    check_unary(np.negative, fn.ops.neg)
    check_unary(np.negative, lambda x: -x)
    assert fn.ops.negative is fn.ops.neg


@pytest.mark.parametrize("bounds", [(-0.5, 0.7), (0.0, 0.0), (-np.inf, 1.0)])
def test_clip(bounds):
    lo, hi = bounds
    avoid = [b for b in bounds if np.isfinite(b)]
    check_unary(lambda x: np.clip(x, lo, hi), lambda x: fn.ops.clip(x, lo, hi), avoid=avoid)


def test_clip_gradient_passes_inside_bounds_only():
    x = fn.tensor([-2.0, -0.5, 0.3, 0.7, 2.0], requires_grad=True)
    fn.ops.clip(x, -0.5, 0.7).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.0, 1.0, -1.0])
def test_pow_scalar_integer_exponent(exponent):
    avoid = (0.0,) if exponent < 0 else ()
    check_unary(lambda x: np.power(x, exponent), lambda x: fn.ops.pow(x, exponent), avoid=avoid, specials=False)
    check_op([(4, 5)], lambda x: np.power(x, exponent), lambda x: x ** exponent, avoid=avoid)


@pytest.mark.parametrize("exponent", [0.5, -1.5, 2.5])
def test_pow_scalar_fractional_exponent(exponent):
    check_unary(lambda x: np.power(x, exponent), lambda x: fn.ops.power(x, exponent), low=0.2, high=3, specials=False)


def test_pow_specials():
    with np.errstate(all="ignore"):
        check_op([SPECIALS.shape], lambda x: np.power(x, 2.0), lambda x: x ** 2, vals=[SPECIALS], grad=False)
        check_op([SPECIALS.shape], lambda x: np.power(x, 3.0), lambda x: x ** 3, vals=[SPECIALS], grad=False)
        # Not 0.5: NumPy computes x ** 0.5 as sqrt(x) (nan at -inf); IEEE pow gives +inf.


def test_pow_tensor_exponent():
    # Base > 0 so d/db = a^b ln(a) is defined.
    check_op([(4, 5), (4, 5)], np.power, fn.ops.power, low=0.3, high=2.0)
    check_op([(4, 5), (5,)], np.power, fn.ops.power, low=0.3, high=2.0)
    check_op([(4, 1), (1, 5)], np.power, lambda a, b: a ** b, low=0.3, high=2.0)
    check_op([(4, 5), ()], np.power, fn.ops.power, low=0.3, high=2.0)


def test_pow_scalar_base_tensor_exponent():
    check_op([(3, 4)], lambda b: np.power(2.0, b), lambda b: 2.0 ** b)
    check_op([(3, 4)], lambda b: np.power(2.0, b), lambda b: fn.ops.pow(2.0, b))


def test_pow_exponent_without_grad_gets_none():
    a = fn.tensor(sample((3,), 0.5, 2.0), requires_grad=True)
    b = fn.tensor([1.0, 2.0, 3.0])
    (a ** b).sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), b.numpy() * a.numpy() ** (b.numpy() - 1), rtol=STRICT.rtol)

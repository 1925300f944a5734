"""Activations: seeded forward + finite-difference gradients against float64 NumPy references
(Keras 3 formulas), special values, and Keras reference values on z = [-2, -0.5, 0, 0.5, 2]."""

import numpy as np
import pytest
from helpers import (
    PERMISSIVE,
    SHAPES,
    SPECIALS,
    STRICT,
    assert_close,
    check_op,
    np_elu,
    np_gelu,
    np_gelu_tanh,
    np_hard_sigmoid,
    np_log_softmax,
    np_selu,
    np_sigmoid,
    np_softmax,
    np_softplus,
)

import ferronet as fn

Z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], np.float32)


def check_activation(ref, op, avoid=(), low=-3.0, high=3.0, specials=True, tol=STRICT):
    for shape in SHAPES:
        check_op([shape], ref, op, avoid=avoid, low=low, high=high, tol=tol)
    check_op([(5, 8)], ref, op, avoid=avoid, low=low, high=high, transposed=[0], tol=tol)
    if specials:
        with np.errstate(all="ignore"):
            check_op([SPECIALS.shape], ref, op, vals=[SPECIALS], grad=False, tol=tol)


def test_relu():
    check_activation(lambda x: np.maximum(x, 0.0), fn.ops.relu, avoid=(0.0,))


def test_sigmoid():
    check_activation(np_sigmoid, fn.ops.sigmoid, low=-8, high=8)
    out = fn.ops.sigmoid([-1000.0, 1000.0]).numpy()
    assert out.tolist() == [0.0, 1.0]


def test_tanh():
    check_activation(np.tanh, fn.ops.tanh)


@pytest.mark.parametrize("slope", [0.2, 0.01, 1.5])
def test_leaky_relu(slope):
    check_activation(lambda x: np.where(x >= 0, x, slope * x), lambda x: fn.ops.leaky_relu(x, negative_slope=slope), avoid=(0.0,))


def test_leaky_relu_default_slope_is_keras():
    np.testing.assert_allclose(fn.ops.leaky_relu([-1.0, 1.0]).numpy(), [-0.2, 1.0], rtol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu(alpha):
    check_activation(lambda x: np_elu(x, alpha), lambda x: fn.ops.elu(x, alpha=alpha), avoid=(0.0,))


def test_selu():
    check_activation(np_selu, fn.ops.selu, avoid=(0.0,))


def test_gelu():
    # math.erf is per element: gradients on the small shapes only.
    check_op([(45, 65)], np_gelu, fn.ops.gelu, grad=False)
    for shape in [(), (7,), (0, 3), (2, 3, 4)]:
        check_op([shape], np_gelu, fn.ops.gelu, low=-4, high=4)
    check_op([(5, 8)], np_gelu, fn.ops.gelu, transposed=[0])
    with np.errstate(all="ignore"):
        check_op([SPECIALS.shape], np_gelu, fn.ops.gelu, vals=[SPECIALS], grad=False)


def test_gelu_approximate():
    check_activation(np_gelu_tanh, lambda x: fn.ops.gelu(x, approximate=True), low=-4, high=4)


def test_softplus():
    check_activation(np_softplus, fn.ops.softplus, low=-10, high=10)
    # Stable far out: no overflow to inf for large x, no log(0) for very negative x.
    np.testing.assert_allclose(fn.ops.softplus([100.0, -30.0]).numpy(), [100.0, np.exp(-30.0)], rtol=1e-6)


def test_silu():
    check_activation(lambda x: x * np_sigmoid(x), fn.ops.silu, low=-6, high=6)
    assert fn.ops.swish is fn.ops.silu


def test_hard_sigmoid():
    check_activation(np_hard_sigmoid, fn.ops.hard_sigmoid, avoid=(-3.0, 3.0), low=-5, high=5)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax(axis):
    check_op([(4, 5)], lambda x: np_softmax(x, axis), lambda x: fn.ops.softmax(x, axis=axis), low=-4, high=4)
    check_op([(2, 3, 4)], lambda x: np_softmax(x, axis), lambda x: fn.ops.softmax(x, axis=axis))
    check_op([(5, 8)], lambda x: np_softmax(x, axis), lambda x: fn.ops.softmax(x, axis=axis), transposed=[0])


def test_softmax_shapes():
    for shape in SHAPES:
        check_op([shape], np_softmax, fn.ops.softmax, grad=shape != (45, 65))
    check_op([(45, 65)], np_softmax, fn.ops.softmax, grad=False)


def test_softmax_is_stable_for_large_logits():
    out = fn.ops.softmax([[1000.0, 1000.0], [-1000.0, 0.0]]).numpy()
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.0, 1.0]], atol=1e-7)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax(axis):
    check_op([(4, 5)], lambda x: np_log_softmax(x, axis), lambda x: fn.ops.log_softmax(x, axis=axis), low=-4, high=4)
    check_op([(2, 3, 4)], lambda x: np_log_softmax(x, axis), lambda x: fn.ops.log_softmax(x, axis=axis))
    check_op([(5, 8)], lambda x: np_log_softmax(x, axis), lambda x: fn.ops.log_softmax(x, axis=axis), transposed=[0])


def test_log_softmax_shapes():
    for shape in SHAPES:
        check_op([shape], np_log_softmax, fn.ops.log_softmax, grad=shape != (45, 65))


def test_log_softmax_is_stable_for_large_logits():
    out = fn.ops.log_softmax([[1000.0, 0.0]]).numpy()
    np.testing.assert_allclose(out, [[0.0, -1000.0]], atol=1e-4)


# ---- Keras reference values on z = [-2, -0.5, 0, 0.5, 2] (published to 6 digits) -------------


def test_hard_sigmoid_keras_values():
    assert_close(fn.ops.hard_sigmoid(Z).numpy(), [0.166667, 0.416667, 0.5, 0.583333, 0.833333], PERMISSIVE)
    # Published to 6 digits: also within 1e-6 of them.
    np.testing.assert_allclose(fn.ops.hard_sigmoid(Z).numpy(), [0.166667, 0.416667, 0.5, 0.583333, 0.833333], atol=1e-6)


def test_gelu_keras_values():
    np.testing.assert_allclose(fn.ops.gelu(Z).numpy(), [-0.0455, -0.154269, 0.0, 0.345731, 1.9545], atol=1e-4)


def test_selu_keras_values():
    np.testing.assert_allclose(fn.ops.selu(Z).numpy(), [-1.520166, -0.691758, 0.0, 0.52535, 2.101402], atol=1e-6)


def test_leaky_relu_keras_values():
    np.testing.assert_allclose(fn.ops.leaky_relu(Z, negative_slope=0.2).numpy(), [-0.4, -0.1, 0.0, 0.5, 2.0], atol=1e-7)

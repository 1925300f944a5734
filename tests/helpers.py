"""Shared test helpers: tolerance presets, seeded inputs and `check_op`.

Tolerances
----------
A value passes when, elementwise (NumPy's ``assert_allclose``)::

    |actual - expected| <= atol + rtol * |expected|

with ``actual`` the ferronet float32 result and ``expected`` a float64 NumPy reference computed on
the same (float32-rounded) inputs. NaNs must sit in the same places.

- ``STRICT`` (rtol 1e-5, atol 1e-6): elementwise ops, a few float32 ulps of the reference.
- ``BALANCED`` (rtol 5e-3, atol 1e-5): results accumulated over many terms (sums, GEMM, losses);
  also what GPU parity uses.
- ``PERMISSIVE`` (rtol 1e-2, atol 1e-2): approximations and published reference values that are
  rounded to a few digits.

Gradients
---------
`check_op` checks the gradient of ``sum(out * w)`` (``w`` seeded random weights, so every output
element matters with a different weight) with respect to every differentiable input against central
finite differences of the float64 reference, ``eps = 1e-6``. It passes when::

    |analytic - numeric| <= GRAD_RTOL * max(|numeric|, GRAD_FLOOR * max(|numeric|), 1e-6)

elementwise, with ``GRAD_RTOL = 1e-2``: a relative error under 1e-2, where entries far smaller
than the largest entry of their gradient are measured against ``GRAD_FLOOR`` (1e-2) of it, so
float32 rounding on near-zero entries does not count as a wrong rule. Inputs are drawn away from
kinks (relu at 0, abs at 0, max ties, clip bounds) with `sample(..., avoid=...)` so the finite
differences are meaningful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

import ferronet as fn


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


STRICT = Tolerance(rtol=1e-5, atol=1e-6)
BALANCED = Tolerance(rtol=5e-3, atol=1e-5)
PERMISSIVE = Tolerance(rtol=1e-2, atol=1e-2)

GRAD_RTOL = 1e-2
GRAD_FLOOR = 1e-2
FD_EPS = 1e-6

#: Shapes every elementwise op is checked on (a 0-size one included).
SHAPES = [(45, 65), (), (7,), (0, 3), (2, 3, 4)]
#: Special values: forward only (gradients of non-finite values are not compared).
SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0], dtype=np.float32)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def sample(shape, low=-2.0, high=2.0, avoid: Sequence[float] = (), margin=0.05, seed=0) -> np.ndarray:
    """Seeded uniform float32 values in [low, high), pushed at least `margin` away from each
    point in `avoid` (a kink of the function under test)."""
    x = rng(seed).uniform(low, high, size=shape)
    for k in avoid:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin), x)
    return np.asarray(x, dtype=np.float32)


def assert_close(actual, expected, tol: Tolerance = STRICT, what: str = ""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True, err_msg=what)


def numeric_grad(f: Callable[..., np.ndarray], inputs: list, index: int, weights: np.ndarray) -> np.ndarray:
    """Central differences of sum(f(*inputs) * weights) w.r.t. inputs[index], in float64."""
    x = inputs[index]
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: perturbing it perturbs inputs[index]
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + FD_EPS
        plus = np.sum(np.asarray(f(*inputs), dtype=np.float64) * weights)
        flat[i] = orig - FD_EPS
        minus = np.sum(np.asarray(f(*inputs), dtype=np.float64) * weights)
        flat[i] = orig
        gflat[i] = (plus - minus) / (2 * FD_EPS)
    return grad


def assert_grad_close(analytic, numeric, what: str = ""):
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{what}: gradient shape {analytic.shape} != {numeric.shape}"
    if numeric.size == 0:
        return
    scale = np.maximum(np.abs(numeric), max(GRAD_FLOOR * np.abs(numeric).max(), 1e-6))
    rel = np.abs(analytic - numeric) / scale
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    assert rel.max() <= GRAD_RTOL, (
        f"{what}: gradient relative error {rel.max():.3g} at {worst}: "
        f"analytic {analytic[worst]:.6g}, numeric {numeric[worst]:.6g}"
    )


def check_op(
    shapes: Sequence[tuple],
    reference_fn: Callable[..., np.ndarray],
    ferronet_fn: Callable[..., "fn.Tensor"],
    tol: Tolerance = STRICT,
    grad: bool = True,
    vals: Optional[Sequence[np.ndarray]] = None,
    low: float = -2.0,
    high: float = 2.0,
    avoid: Sequence[float] = (),
    wrt: Optional[Sequence[int]] = None,
    transposed: Sequence[int] = (),
    seed: int = 0,
):
    """Compare `ferronet_fn(*tensors)` with `reference_fn(*float64 arrays)` on seeded inputs.

    Args:
        shapes: one shape per input (ignored where `vals` gives the values).
        reference_fn: the float64 NumPy reference.
        ferronet_fn: the ferronet call, on `Tensor`s.
        tol: forward tolerance preset. Default STRICT.
        grad: also check gradients (see the module docstring). Default True.
        vals: explicit float32 input values, overriding `shapes`.
        low, high, avoid: the sampling range and kinks to stay away from.
        wrt: indices of the inputs to differentiate (default: all).
        transposed: indices of inputs passed as a transposed (strided) view of a leaf.
        seed: RNG seed.

    Returns:
        The ferronet output as a NumPy array.
    """
    if vals is None:
        vals = [sample(s, low, high, avoid=avoid, seed=seed + i) for i, s in enumerate(shapes)]
    vals = [np.asarray(v, dtype=np.float32) for v in vals]
    wrt = range(len(vals)) if wrt is None else wrt
    leaves, args = [], []
    for i, v in enumerate(vals):
        if i in transposed:
            leaf = fn.tensor(np.ascontiguousarray(v.T), requires_grad=grad and i in wrt)
            args.append(leaf.T)
        else:
            leaf = fn.tensor(v, requires_grad=grad and i in wrt)
            args.append(leaf)
        leaves.append(leaf)
    out = ferronet_fn(*args)
    ref_inputs = [v.astype(np.float64) for v in vals]
    expected = np.asarray(reference_fn(*ref_inputs), dtype=np.float64)
    got = out.numpy()
    assert got.dtype == np.float32
    assert_close(got, expected, tol, what="forward")
    if not grad:
        return got
    weights = rng(seed + 100).standard_normal(expected.shape)
    (out * weights.astype(np.float32)).sum().backward()
    for i in wrt:
        leaf = leaves[i]
        assert leaf.grad is not None, f"input {i} got no gradient"
        analytic = leaf.grad.numpy()
        if i in transposed:
            analytic = analytic.T
        numeric = numeric_grad(reference_fn, ref_inputs, i, weights)
        assert_grad_close(analytic, numeric, what=f"gradient of input {i}")
    return got


def check_raises(exc_type, call, *fragments):
    """Run `call`, expect `exc_type`, never a pyo3 PanicException (which derives from
    BaseException only), and every fragment in the message. Returns the exception."""
    try:
        call()
    except BaseException as exc:  # noqa: B902 - a panic must be caught to be reported
        assert isinstance(exc, Exception), f"got a panic, not an exception: {type(exc).__name__}: {exc}"
        assert type(exc).__name__ != "PanicException", f"got a PanicException: {exc}"
        assert isinstance(exc, exc_type), f"expected {exc_type.__name__}, got {type(exc).__name__}: {exc}"
        message = str(exc)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in message {message!r}"
        return exc
    raise AssertionError(f"expected {exc_type.__name__}, nothing was raised")


# ---- float64 NumPy references for the activations (Keras 3 formulas) -------------------------

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_erf = np.frompyfunc(math.erf, 1, 1)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    if x.ndim == 0:
        return np.ones_like(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    if x.ndim == 0:
        return np.zeros_like(x)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_gelu(x):
    return 0.5 * x * (1.0 + np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64))


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_selu(x):
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def np_hard_sigmoid(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0  # relu6(x + 3) / 6


def np_softplus(x):
    return np.logaddexp(0.0, x)


#: Every activation name `dense` accepts, with its reference (Keras defaults for parameters).
NP_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": np_elu,
    "selu": np_selu,
    "gelu": np_gelu,
    "softplus": np_softplus,
    "silu": lambda x: x * np_sigmoid(x),
    "swish": lambda x: x * np_sigmoid(x),
    "hard_sigmoid": np_hard_sigmoid,
    "softmax": np_softmax,
}

"""The Python face of Tensor: NumPy round trip, zero-copy in, operators with tensors, arrays and
scalars on either side, attributes, repr, len, the `ferronet.tensor` alias."""

import operator
import subprocess
import sys

import numpy as np
import pytest
from helpers import sample

import ferronet as fn


@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (2, 3, 4, 5)])
def test_numpy_round_trip(shape):
    x = sample(shape)
    t = fn.tensor(x)
    out = t.numpy()
    assert out.dtype == np.float32 and out.shape == shape
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(np.asarray(t), x)
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), x.astype(np.float64))
    assert t.tolist() == x.tolist()


def test_round_trip_keeps_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 1e-45, 3.4e38], np.float32)
    np.testing.assert_array_equal(fn.tensor(x).numpy(), x)
    assert np.signbit(fn.tensor(x).numpy()[3])


@pytest.mark.parametrize(
    "data",
    [[1, 2, 3], [[1.5, 2.5]], 3, 2.5, True, np.arange(4, dtype=np.int64), np.arange(4, dtype=np.uint8), np.array([True, False]), np.float64(2.0), np.arange(3, dtype=np.float16)],
)
def test_inputs_become_float32(data):
    t = fn.tensor(data)
    assert t.dtype == "float32"
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float32))


def test_zero_copy_for_float32_c_contiguous_arrays():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = fn.tensor(a)
    a[0, 0] = 42.0
    assert t.numpy()[0, 0] == 42.0
    # The tensor keeps the array alive.
    del a
    assert t.numpy()[0, 0] == 42.0


def test_numpy_returns_a_copy():
    t = fn.tensor(np.zeros(3, np.float32))
    out = t.numpy()
    out[0] = 7.0
    assert t.numpy()[0] == 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(6, dtype=np.float64).reshape(2, 3),  # other dtype
        lambda: np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],  # not contiguous
        lambda: np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),  # Fortran order
        lambda: np.arange(6, dtype=np.float32).reshape(2, 3).T,  # transposed view
    ],
)
def test_other_arrays_are_copied(make):
    a = make()
    t = fn.tensor(a)
    expected = a.astype(np.float32)
    a[...] = -1.0
    np.testing.assert_array_equal(t.numpy(), expected)


def test_attributes():
    t = fn.tensor(np.zeros((2, 3, 4), np.float32), requires_grad=True)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 24 and t.dtype == "float32" and t.device == "cpu"
    assert t.requires_grad and t.is_leaf and t.grad is None
    s = fn.tensor(5.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1 and s.item() == 5.0
    assert not s.requires_grad


def test_len():
    assert len(fn.tensor(np.zeros((4, 2)))) == 4
    assert len(fn.tensor(np.zeros((0, 2)))) == 0
    with pytest.raises(TypeError):
        len(fn.tensor(1.0))


def test_repr():
    assert repr(fn.tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(fn.tensor([[1.0, 2.0]], requires_grad=True)) == "Tensor([[1., 2.]], requires_grad=True)"
    assert repr(fn.tensor(2.5)) == "Tensor(2.5)"
    long = repr(fn.tensor(np.arange(30, dtype=np.float32).reshape(3, 10) / 7, requires_grad=True))
    assert long.startswith("Tensor([[") and long.endswith("]], requires_grad=True)") and "dtype" not in long


def test_tensor_alias():
    t = fn.tensor([1.0], requires_grad=True)
    assert isinstance(t, fn.Tensor) and t.requires_grad
    assert fn.Tensor([1.0]).numpy().tolist() == [1.0]


OPERATORS = [
    (operator.add, np.add),
    (operator.sub, np.subtract),
    (operator.mul, np.multiply),
    (operator.truediv, np.divide),
    (operator.pow, np.power),
]


@pytest.mark.parametrize("op, ref", OPERATORS, ids=["add", "sub", "mul", "div", "pow"])
def test_operators_with_tensors_arrays_and_scalars(op, ref):
    a = sample((2, 3), 0.5, 2.0, seed=1)
    b = sample((2, 3), 0.5, 2.0, seed=2)
    row = sample((3,), 0.5, 2.0, seed=3)
    ta, tb = fn.tensor(a), fn.tensor(b)
    cases = [
        (op(ta, tb), ref(a, b)),
        (op(ta, b), ref(a, b)),  # array on the right
        (op(a, tb), ref(a, b)),  # array on the left
        (op(ta, row), ref(a, row)),
        (op(row, ta), ref(row, a)),
        (op(ta, 2.0), ref(a, np.float32(2.0))),  # scalar on the right
        (op(2.0, ta), ref(np.float32(2.0), a)),  # scalar on the left
        (op(ta, 3), ref(a, np.float32(3))),
        (op(3, ta), ref(np.float32(3), a)),
        (op(ta, [1.0, 2.0, 3.0]), ref(a, np.array([1.0, 2.0, 3.0], np.float32))),
    ]
    for got, expected in cases:
        assert isinstance(got, fn.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_operators_with_arrays_on_the_left_record_gradients():
    t = fn.tensor(np.ones(3, np.float32), requires_grad=True)
    a = np.array([1.0, 2.0, 3.0], np.float32)
    out = a * t + a - t
    assert isinstance(out, fn.Tensor) and out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), a - 1.0)


def test_matmul_operator():
    a, b = sample((2, 3)), sample((3, 4), seed=1)
    expected = a.astype(np.float64) @ b
    for got in (fn.tensor(a) @ fn.tensor(b), fn.tensor(a) @ b, a @ fn.tensor(b)):
        assert isinstance(got, fn.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_unary_minus_and_pow():
    t = fn.tensor([1.0, -2.0], requires_grad=True)
    y = -t
    np.testing.assert_array_equal(y.numpy(), [-1.0, 2.0])
    (y ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [2.0, -4.0])
    np.testing.assert_allclose((2.0 ** fn.tensor([1.0, 3.0])).numpy(), [2.0, 8.0])
    with pytest.raises(TypeError):
        pow(fn.tensor(2.0), 2, 3)


def test_in_place_operators_make_new_tensors():
    t = fn.tensor([1.0, 2.0])
    before = t
    t += 1.0
    t *= 2.0
    assert t is not before
    np.testing.assert_array_equal(t.numpy(), [4.0, 6.0])
    np.testing.assert_array_equal(before.numpy(), [1.0, 2.0])


def test_reduction_methods_match_ops():
    x = sample((3, 4))
    t = fn.tensor(x)
    np.testing.assert_allclose(t.sum(axis=1).numpy(), x.sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(t.mean().numpy(), x.mean(), rtol=1e-5)
    np.testing.assert_allclose(t.max(axis=0, keepdims=True).numpy(), x.max(axis=0, keepdims=True))


def test_numpy_scalars_on_the_left():
    t = fn.tensor([1.0, 2.0], requires_grad=True)
    for got, expected in [(np.float32(2) * t, [2.0, 4.0]), (np.float64(1) + t, [2.0, 3.0]), (np.int64(2) ** t, [2.0, 4.0])]:
        assert isinstance(got, fn.Tensor) and got.requires_grad
        np.testing.assert_allclose(got.numpy(), expected)


def test_iteration_yields_rows():
    rows = list(fn.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.numpy().tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]


def test_numpy_ufuncs_still_take_tensors():
    t = fn.tensor([0.0, 1.0])
    out = np.exp(t)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [1.0, np.e], rtol=1e-6)


def test_unaligned_and_byte_swapped_arrays_are_copied():
    # An unaligned float32 view is C-contiguous but cannot be borrowed as f32 memory (reading it
    # was undefined behaviour, an abort in debug builds): run in a child process.
    code = (
        "import numpy as np, ferronet as fn\n"
        "buf = np.arange(17, dtype=np.uint8)\n"
        "u = np.frombuffer(buf.data, dtype=np.float32, count=4, offset=1)\n"
        "assert not u.flags['ALIGNED']\n"
        "t = fn.tensor(u)\n"
        "np.testing.assert_array_equal((t + 0.0).numpy(), u)\n"
        "b = np.arange(3, dtype='>f4')\n"
        "np.testing.assert_array_equal(fn.tensor(b).numpy(), [0.0, 1.0, 2.0])\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]

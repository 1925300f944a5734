"""Shape ops and views: reshape (with -1), transpose/permute, .T, basic indexing (ints, slices with
negative steps, Ellipsis). Values must match NumPy exactly, and gradients flow through views."""

import numpy as np
import pytest
from helpers import check_op, sample

import ferronet as fn


@pytest.mark.parametrize(
    "src, dst",
    [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)), ((2, 3, 4), (2, -1, 2)), ((6,), (1, 6, 1)), ((), (1, 1)), ((1,), ()), ((0, 3), (-1, 3)), ((0, 3), (3, 0))],
)
def test_reshape(src, dst):
    check_op([src], lambda x: x.reshape(dst), lambda x: fn.ops.reshape(x, dst))
    check_op([src], lambda x: x.reshape(dst), lambda x: x.reshape(dst))
    check_op([src], lambda x: x.reshape(dst), lambda x: x.reshape(*dst))


def test_reshape_of_a_transposed_view():
    # Not contiguous: reshape must copy in row-major order of the view.
    check_op([(3, 4)], lambda x: x.T.reshape(-1), lambda x: x.T.reshape(-1))
    check_op([(2, 3, 4)], lambda x: x.transpose(2, 0, 1).reshape(4, 6), lambda x: x.transpose(2, 0, 1).reshape(4, 6))


def test_reshape_of_a_slice():
    check_op([(6, 4)], lambda x: x[1:5].reshape(2, 8), lambda x: x[1:5].reshape(2, 8))
    check_op([(6, 4)], lambda x: x[:, 1:3].reshape(-1), lambda x: x[:, 1:3].reshape(-1))


def test_reshape_int_argument():
    assert fn.ops.reshape(np.ones((2, 3)), 6).shape == (6,)
    assert fn.tensor(np.ones((2, 3))).reshape(-1).shape == (6,)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (0, 1, 2), (-1, 0, 1)])
def test_transpose(axes):
    check_op([(2, 3, 4)], lambda x: np.transpose(x, axes), lambda x: fn.ops.transpose(x, axes))
    check_op([(2, 3, 4)], lambda x: np.transpose(x, axes), lambda x: x.transpose(axes) if axes is not None else x.transpose())
    if axes is not None:
        check_op([(2, 3, 4)], lambda x: np.transpose(x, axes), lambda x: x.transpose(*axes))


def test_transpose_property():
    for shape in [(3, 4), (2, 3, 4), (5,), ()]:
        check_op([shape], lambda x: x.T, lambda x: x.T)
    check_op([(3, 4)], lambda x: x.T.T, lambda x: x.T.T)


def test_transpose_then_elementwise():
    # Ops on a strided view read through its strides.
    check_op([(3, 4), (4, 3)], lambda a, b: a.T * b + 1.0, lambda a, b: a.T * b + 1.0)
    check_op([(3, 4)], lambda a: np.exp(a.T)[1:], lambda a: fn.ops.exp(a.T)[1:])


INDEXES = [
    0,
    -1,
    (1, 2),
    (-1, -2, 0),
    slice(1, 3),
    slice(None, None, -1),
    slice(None, None, 2),
    slice(3, 0, -2),
    slice(-2, None),
    slice(5, 10),  # past the end: clipped
    slice(2, 2),  # empty
    (slice(None), 1),
    (Ellipsis, 1),
    (Ellipsis, slice(None, None, -1)),
    (1, Ellipsis),
    (0, Ellipsis, 2),
    (slice(None, None, -1), slice(1, None, 2), slice(None, None, -3)),
    Ellipsis,
    (),
]


@pytest.mark.parametrize("index", INDEXES, ids=[repr(i) for i in INDEXES])
def test_getitem(index):
    check_op([(4, 3, 5)], lambda x: x[index], lambda x: x[index])


def test_getitem_of_getitem():
    check_op([(6, 5)], lambda x: x[::-1][1:4, ::2][::-1], lambda x: x[::-1][1:4, ::2][::-1])
    check_op([(6, 5)], lambda x: x.T[::2, 1], lambda x: x.T[::2, 1])


def test_getitem_numpy_integer():
    x = sample((4, 3))
    np.testing.assert_array_equal(fn.tensor(x)[np.int64(2)].numpy(), x[2])
    np.testing.assert_array_equal(fn.tensor(x)[np.int32(-1), np.int64(0)].numpy(), x[-1, 0])


def test_getitem_gradient_scatters_and_accumulates():
    x = fn.tensor(np.arange(6, dtype=np.float32), requires_grad=True)
    # x[1:4] and x[::-1][:3] = x[5], x[4], x[3] overlap at x[3].
    (x[1:4] * 2.0 + x[::-1][:3]).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 2.0, 2.0, 3.0, 1.0, 1.0]


def test_views_share_memory_with_their_base():
    x = fn.tensor(sample((4, 5)))
    v = x.T[1:3]
    np.testing.assert_array_equal(v.numpy(), x.numpy().T[1:3])
    assert not v.requires_grad


def test_gradient_flows_through_a_chain_of_views():
    check_op(
        [(4, 6)],
        lambda x: (x.reshape(2, 12).T[::3] * np.arange(8.0).reshape(4, 2)).sum(axis=0),
        lambda x: (x.reshape(2, 12).T[::3] * np.arange(8.0, dtype=np.float32).reshape(4, 2)).sum(axis=0),
    )


@pytest.mark.parametrize(
    "shape, index",
    [((2, 0), 0), ((3, 0), 2), ((3, 0, 2), (slice(None), slice(None))), ((0, 3), slice(None)), ((4, 0), (slice(None, None, -1), slice(None)))],
)
def test_getitem_of_empty_tensors(shape, index):
    # Empty views whose offset lies past their (empty) buffer.
    check_op([shape], lambda x: x[index], lambda x: x[index])
    check_op([shape], lambda x: x[index].reshape(-1), lambda x: x[index].reshape(-1))

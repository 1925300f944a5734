"""Bad calls raise clean exceptions: the right class (ferronet.errors subclasses of ValueError /
TypeError where they apply), a message that names the op and shows the shapes or values at fault,
and never a pyo3 PanicException (which derives from BaseException only). `check_raises` checks
all three."""

import numpy as np
import pytest
from helpers import check_raises

import ferronet as fn
from ferronet.errors import DTypeError, GradientError, ShapeError

X23 = np.zeros((2, 3), np.float32)


def test_error_classes_subclass_builtins():
    assert issubclass(ShapeError, ValueError)
    assert issubclass(DTypeError, TypeError)
    assert issubclass(GradientError, ValueError)
    assert issubclass(fn.errors.BackwardNotSupported, NotImplementedError)
    assert issubclass(fn.errors.DeviceError, ValueError)


def test_matmul_inner_mismatch():
    check_raises(ShapeError, lambda: fn.ops.matmul(np.zeros((3, 4)), np.zeros((5, 6))), "matmul", "(3, 4)", "(5, 6)")
    check_raises(ShapeError, lambda: fn.tensor(np.zeros((3, 4))) @ np.zeros(5), "matmul", "(3, 4)", "(5,)")


def test_matmul_batch_mismatch():
    check_raises(ShapeError, lambda: fn.ops.matmul(np.zeros((2, 3, 4)), np.zeros((3, 4, 5))), "matmul", "(2, 3, 4)", "(3, 4, 5)")


def test_matmul_scalar_operand():
    check_raises(ShapeError, lambda: fn.ops.matmul(2.0, np.zeros(3)), "matmul", "()", "(3,)")


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "power"])
def test_broadcast_mismatch(name):
    label = {"subtract": "sub", "multiply": "mul", "divide": "div", "power": "pow"}.get(name, name)
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(np.zeros((2, 3)), np.zeros((4,))), label, "(2, 3)", "(4,)")
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(np.zeros((3, 1)), np.zeros((2, 4))), "(3, 1)", "(2, 4)")


def test_broadcast_mismatch_through_operators():
    t = fn.tensor(X23)
    check_raises(ShapeError, lambda: t + np.zeros(4), "add", "(2, 3)", "(4,)")
    check_raises(ShapeError, lambda: np.zeros(4) * t, "mul", "(4,)", "(2, 3)")


def test_reshape_to_wrong_size():
    check_raises(ShapeError, lambda: fn.ops.reshape(X23, (4,)), "reshape", "6 elements", "(2, 3)")
    check_raises(ShapeError, lambda: fn.tensor(X23).reshape(4, -1), "reshape", "(2, 3)")
    check_raises(ShapeError, lambda: fn.tensor(X23).reshape(-2, 3), "reshape", "(2, 3)")


def test_reshape_two_unknown_axes():
    check_raises(ShapeError, lambda: fn.tensor(X23).reshape(-1, -1), "reshape", "-1", "(2, 3)")


def test_reshape_overflowing_shape():
    check_raises(ShapeError, lambda: fn.ops.reshape(X23, (2**62, 2**62, -1)), "reshape", "(2, 3)")


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduce_axis_out_of_range(name):
    # The engine's axis error shows the valid range for the input's rank (its ndim).
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(X23, axis=2), name, "axis=2", "[-2, 2)")
    check_raises(ShapeError, lambda: getattr(fn.tensor(X23), name)(axis=(0, -3)), name, "axis=-3")


def test_reduce_repeated_axis():
    check_raises(ValueError, lambda: fn.ops.sum(X23, axis=(0, 0)), "sum", "distinct axes")


def test_reduce_axis_of_wrong_type():
    check_raises(TypeError, lambda: fn.ops.sum(X23, axis="rows"), "axis", "'rows'")


def test_max_over_an_empty_axis():
    check_raises(ShapeError, lambda: fn.ops.max(np.zeros((0, 3))), "max", "(0, 3)")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_axis_out_of_range(name):
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(X23, axis=2), name, "axis=2", "[-2, 2)")


def test_transpose_bad_permutation():
    check_raises(ValueError, lambda: fn.ops.transpose(X23, (0, 0)), "transpose", "permutation", "(2, 3)")
    check_raises(ValueError, lambda: fn.tensor(X23).transpose(1, 0, 2), "transpose", "(2, 3)")
    check_raises(ShapeError, lambda: fn.ops.transpose(X23, (0, 5)), "transpose", "axis=5")


def test_dense_wrong_last_axis():
    x, kernel = np.zeros((32, 63)), np.zeros((64, 10))
    check_raises(ShapeError, lambda: fn.ops.dense(x, kernel), "dense", "last axis 64", "(32, 63)")
    check_raises(ShapeError, lambda: fn.ops.dense(2.0, kernel), "dense", "()")


def test_dense_kernel_not_2d():
    check_raises(ShapeError, lambda: fn.ops.dense(np.zeros((2, 5)), np.zeros(5)), "dense", "2-D kernel", "(5,)")
    check_raises(ShapeError, lambda: fn.ops.dense(np.zeros((2, 5)), np.zeros((5, 2, 2))), "dense", "(5, 2, 2)")


def test_dense_wrong_bias_shape():
    check_raises(ShapeError, lambda: fn.ops.dense(np.zeros((2, 5)), np.zeros((5, 4)), np.zeros(3)), "dense", "(4,)", "(3,)")
    check_raises(ShapeError, lambda: fn.ops.dense(np.zeros((2, 5)), np.zeros((5, 4)), np.zeros((1, 4))), "dense", "(1, 4)")


def test_dense_unknown_activation():
    check_raises(ValueError, lambda: fn.ops.dense(np.zeros((2, 5)), np.zeros((5, 4)), activation="foo"), "dense", "'foo'", "relu")


def test_backward_non_scalar_without_gradient():
    x = fn.tensor(X23, requires_grad=True)
    check_raises(GradientError, lambda: (x * 2.0).backward(), "backward", "(2, 3)")


def test_backward_with_a_gradient_of_the_wrong_shape():
    x = fn.tensor(X23, requires_grad=True)
    check_raises(ShapeError, lambda: (x * 2.0).backward(np.ones(3)), "backward", "(2, 3)", "(3,)")


def test_backward_without_requires_grad():
    check_raises(GradientError, lambda: fn.tensor(X23).sum().backward(), "backward", "requires_grad=False")


def test_backward_twice_without_retain_graph():
    y = (fn.tensor(X23, requires_grad=True) * 2.0).sum()
    y.backward()
    check_raises(GradientError, y.backward, "backward", "freed")


def test_requires_grad_on_a_non_leaf():
    y = fn.tensor(X23, requires_grad=True) * 2.0
    check_raises(ValueError, lambda: setattr(y, "requires_grad", False), "requires_grad", "leaf", "(2, 3)")


def test_string_array_input():
    check_raises(DTypeError, lambda: fn.tensor(np.array(["a", "b"])), "Tensor", "<U1")
    check_raises(DTypeError, lambda: fn.ops.add(X23, "abc"), "add", "<U3")
    check_raises(DTypeError, lambda: fn.tensor(X23) * "abc", "mul", "<U3")


def test_object_array_input():
    check_raises(DTypeError, lambda: fn.tensor(np.array([1.0, None])), "Tensor", "object")
    check_raises(DTypeError, lambda: fn.ops.exp([{"a": 1}]), "exp", "object")


def test_complex_input():
    check_raises(DTypeError, lambda: fn.tensor(np.ones(2, np.complex64)), "Tensor", "complex64")


def test_ragged_input():
    check_raises(ShapeError, lambda: fn.tensor([[1.0, 2.0], [3.0]]), "Tensor", "inhomogeneous")
    check_raises(ShapeError, lambda: fn.ops.sparse_categorical_crossentropy([[1], [0, 1]], X23), "sparse_categorical_crossentropy")


def test_clip_min_greater_than_max():
    check_raises(ValueError, lambda: fn.ops.clip(X23, 2.0, 1.0), "clip", "min=2", "max=1")


def test_clip_nan_bound():
    check_raises(ValueError, lambda: fn.ops.clip(X23, float("nan"), 1.0), "clip", "min=NaN")
    check_raises(ValueError, lambda: fn.ops.clip(X23, 0.0, float("nan")), "clip", "max=NaN")


def test_leaky_relu_non_finite_slope():
    check_raises(ValueError, lambda: fn.ops.leaky_relu(X23, negative_slope=float("inf")), "leaky_relu", "negative_slope=inf")
    check_raises(ValueError, lambda: fn.ops.leaky_relu(X23, negative_slope=float("nan")), "leaky_relu", "NaN")


def test_elu_non_finite_alpha():
    check_raises(ValueError, lambda: fn.ops.elu(X23, alpha=float("-inf")), "elu", "alpha=-inf")


def test_sparse_ce_label_out_of_range():
    check_raises(ValueError, lambda: fn.ops.sparse_categorical_crossentropy([0, 3], X23), "sparse_categorical_crossentropy", "[0, 3)", "(2, 3)", "label 3")
    check_raises(ValueError, lambda: fn.ops.sparse_categorical_crossentropy([-1, 0], X23), "sparse_categorical_crossentropy", "label -1")


def test_sparse_ce_fractional_label():
    check_raises(DTypeError, lambda: fn.ops.sparse_categorical_crossentropy([0.5, 1.0], X23), "sparse_categorical_crossentropy", "0.5")
    check_raises(DTypeError, lambda: fn.ops.sparse_categorical_crossentropy([np.nan, 1.0], X23), "sparse_categorical_crossentropy", "NaN")
    check_raises(DTypeError, lambda: fn.ops.sparse_categorical_crossentropy(["a", "b"], X23), "sparse_categorical_crossentropy", "<U1")


def test_sparse_ce_label_count_mismatch():
    check_raises(ShapeError, lambda: fn.ops.sparse_categorical_crossentropy([0, 1, 2], X23), "sparse_categorical_crossentropy", "2 labels", "(2, 3)", "3 labels")


@pytest.mark.parametrize(
    "name", ["mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy"]
)
def test_loss_shape_mismatch(name):
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(np.zeros((2, 4)), X23), name, "(2, 3)", "(2, 4)")
    check_raises(ShapeError, lambda: getattr(fn.ops, name)(1.0, 1.0), name, "()")


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_label_smoothing_outside_unit_interval(name, value):
    check_raises(ValueError, lambda: getattr(fn.ops, name)(X23, X23, label_smoothing=value), name, "label_smoothing")


@pytest.mark.parametrize("delta", [0.0, -1.0, float("inf"), float("nan")])
def test_huber_bad_delta(delta):
    check_raises(ValueError, lambda: fn.ops.huber(X23, X23, delta=delta), "huber", "delta")


def test_too_many_indices():
    t = fn.tensor(X23)
    check_raises(IndexError, lambda: t[0, 1, 2], "getitem", "(2, 3)", "got 3")
    check_raises(IndexError, lambda: t[..., 0, 1, 2], "getitem", "(2, 3)")
    check_raises(IndexError, lambda: t[..., ...], "getitem", "ellipsis")


def test_index_out_of_range():
    t = fn.tensor(X23)
    check_raises(IndexError, lambda: t[5], "getitem", "(2, 3)", "got 5")
    check_raises(IndexError, lambda: t[0, -4], "getitem", "axis 1", "(2, 3)", "got -4")
    check_raises(IndexError, lambda: fn.tensor(np.zeros((0, 3)))[0], "getitem", "(0, 3)")


def test_index_of_a_bad_kind():
    t = fn.tensor(X23)
    check_raises(TypeError, lambda: t[1.0], "getitem", "float")
    check_raises(TypeError, lambda: t[None], "getitem", "NoneType")
    check_raises(ValueError, lambda: t[::0], "getitem", "step=0", "(2, 3)")


def test_grad_setter_with_wrong_shape():
    t = fn.tensor(X23, requires_grad=True)
    check_raises(ShapeError, lambda: setattr(t, "grad", np.zeros(3)), "grad", "(2, 3)", "(3,)")


def test_item_of_a_tensor_with_many_elements():
    check_raises(ShapeError, lambda: fn.tensor(X23).item(), "item", "(2, 3)")


def test_three_argument_pow():
    check_raises(TypeError, lambda: pow(fn.tensor(X23), 2, 3), "pow")


def test_len_of_a_scalar():
    check_raises(TypeError, lambda: len(fn.tensor(1.0)), "0-d")

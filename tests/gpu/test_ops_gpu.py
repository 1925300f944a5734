"""Every op with a GPU kernel against the CPU backend: outputs and gradients, on awkward sizes
that cross workgroup (256) and GEMM tile (64) edges, with no CPU fallback on the way."""

import numpy as np
import pytest

import ferronet as fn
from gpu.parity import AWKWARD, gpu_parity
from helpers import sample

ops = fn.ops


def rand(shape, seed=0, low=-2.0, high=2.0, avoid=()):
    return sample(shape, low=low, high=high, avoid=avoid, seed=seed)


UNARY = {
    "neg": (ops.neg, ()),
    "exp": (ops.exp, ()),
    "square": (ops.square, ()),
    "abs": (ops.abs, (0.0,)),
    "relu": (ops.relu, (0.0,)),
    "sigmoid": (ops.sigmoid, ()),
    "tanh": (ops.tanh, ()),
    "selu": (ops.selu, (0.0,)),
    "softplus": (ops.softplus, ()),
    "silu": (ops.silu, ()),
    "hard_sigmoid": (ops.hard_sigmoid, (-3.0, 3.0)),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.2), (0.0,)),
    "elu": (lambda x: ops.elu(x, 0.7), (0.0,)),
    "gelu": (lambda x: ops.gelu(x, False), ()),
    "gelu_tanh": (lambda x: ops.gelu(x, True), ()),
    "clip": (lambda x: ops.clip(x, -0.5, 0.75), (-0.5, 0.75)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("n", AWKWARD)
def test_unary(name, n):
    f, kinks = UNARY[name]
    gpu_parity(f, [rand((n,), seed=n, avoid=kinks)], what=name)


@pytest.mark.parametrize("name,f", [("log", ops.log), ("sqrt", ops.sqrt)])
def test_positive_domain(name, f):
    gpu_parity(f, [rand((17, 3), low=0.1, high=3.0)], what=name)


def test_log_at_zero_and_below_matches_numpy():
    x = fn.tensor(np.array([0.0, -1.0, 1.0], np.float32))
    got = ops.log(x.to("gpu")).numpy()
    assert got[0] == -np.inf and np.isnan(got[1]) and got[2] == 0.0


@pytest.mark.parametrize("shapes", [((255, 3), (255, 3)), ((3, 1, 17), (1, 5, 1)), ((1025,), ()), ((4, 17), (17,)), ((2, 3, 4), (3, 1))])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_broadcasting_binary(shapes, name):
    f = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[name]
    a = rand(shapes[0], seed=1)
    b = rand(shapes[1], seed=2, low=0.5, high=2.0)
    gpu_parity(f, [a, b], what=f"{name}{shapes}")


def test_pow_with_negative_bases_and_integral_exponents():
    a = np.array([[-2.0, -1.5, 0.5, 3.0]], np.float32)
    b = np.array([[2.0], [3.0]], np.float32)
    got = (fn.tensor(a).to("gpu") ** fn.tensor(b).to("gpu")).numpy()
    np.testing.assert_allclose(got, a.astype(np.float64) ** b, rtol=1e-5)
    gpu_parity(lambda x, y: x ** y, [rand((3, 17), low=0.5, high=2.0), rand((17,), seed=3)], what="pow")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 17, 1), (17, 255, 3), (65, 64, 129), (255, 3, 1025), (256, 9, 256), (257, 17, 385), (1025, 255, 300)])
def test_matmul(m, k, n):
    gpu_parity(lambda a, b: a @ b, [rand((m, k), seed=m), rand((k, n), seed=n)], what=f"matmul {m}x{k}x{n}")


def test_matmul_transposed_batched_and_vectors():
    gpu_parity(lambda a, b: a.T @ b, [rand((17, 3)), rand((17, 5), seed=1)], what="a^T b")
    gpu_parity(lambda a, b: a @ b, [rand((3, 4, 17)), rand((17, 5), seed=1)], what="batched @ matrix")
    gpu_parity(lambda a, b: a @ b, [rand((2, 1, 4, 3)), rand((3, 3, 5), seed=1)], what="broadcast batches")
    gpu_parity(lambda a, b: a.T @ b, [rand((3, 300)), rand((3, 257), seed=1)], what="large tiles, transposed A")
    gpu_parity(lambda a, b: a @ b, [rand((2, 260, 33)), rand((2, 33, 270), seed=1)], what="large tiles, batched")
    gpu_parity(lambda a, b: a @ b, [rand((17,)), rand((17, 3), seed=1)], what="vector @ matrix")
    gpu_parity(lambda a, b: a @ b, [rand((3, 17)), rand((17,), seed=1)], what="matrix @ vector")


def operand(kind, rows, cols, seed):
    """(array, f) such that f(leaf made from array) is a (rows, cols) matrix that the GEMM reads
    as `kind` (kernels/variant.rs `vec_axis`): vec4s along its columns (row-major, columns a
    multiple of 4), along its rows (a transposed view, rows a multiple of 4), or one value at a
    time (a view starting at an odd offset)."""
    if kind == "cols":
        return sample((rows, cols), seed=seed), lambda t: t
    if kind == "rows":
        return sample((cols, rows), seed=seed), lambda t: t.T
    return sample((rows, cols + 1), seed=seed), lambda t: t[:, 1:]


@pytest.mark.parametrize("a_kind", ["cols", "rows", "scalar"])
@pytest.mark.parametrize("b_kind", ["cols", "rows", "scalar"])
@pytest.mark.parametrize("m,k,n", [(68, 20, 36), (260, 24, 264)], ids=["64-tiles", "128-tiles"])
def test_matmul_reads_every_operand_layout(a_kind, b_kind, m, k, n):
    (a, fa), (b, fb) = operand(a_kind, m, k, 1), operand(b_kind, k, n, 2)
    gpu_parity(lambda x, y: fa(x) @ fb(y), [a, b], what=f"A {a_kind}, B {b_kind}, {m}x{k}x{n}")


def test_batched_matmul_with_unaligned_batch_strides():
    """Batch strides that are not multiples of 4 keep the kernel on one-value reads."""
    gpu_parity(lambda x, y: x[:, :, 1:] @ y, [sample((3, 8, 9)), sample((8, 12), seed=1)], what="batch stride 72, offset 1")
    gpu_parity(lambda x, y: x @ y, [sample((3, 5, 6)), sample((3, 6, 8), seed=1)], what="batch strides 30 and 48")


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
def test_sum_and_mean(axis, keepdims):
    x = rand((3, 255, 5))
    gpu_parity(lambda t: t.sum(axis=axis, keepdims=keepdims), [x], what=f"sum {axis}")
    gpu_parity(lambda t: t.mean(axis=axis, keepdims=keepdims), [x], what=f"mean {axis}")


def test_sum_of_an_empty_axis_is_zero():
    t = fn.tensor(np.zeros((3, 0), np.float32)).to("gpu")
    np.testing.assert_array_equal(t.sum(axis=1).numpy(), np.zeros(3))


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("f", [ops.softmax, ops.log_softmax])
def test_softmax(f, axis):
    gpu_parity(lambda t: f(t, axis=axis), [rand((17, 1025), low=-8, high=8)], what=f"{f.__name__} axis {axis}")


def test_softmax_of_large_logits_is_stable():
    x = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    np.testing.assert_allclose(ops.softmax(fn.tensor(x).to("gpu")).numpy(), [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "elu", "softmax"])
@pytest.mark.parametrize("rows,n_in,n_out", [(1, 3, 17), (255, 17, 3), (3, 64, 65)])
def test_dense(activation, rows, n_in, n_out):
    gpu_parity(lambda x, k, b: ops.dense(x, k, b, activation=activation), [rand((rows, n_in)), rand((n_in, n_out), seed=1), rand((n_out,), seed=2)], what=f"dense {activation}")


def test_dense_on_a_sequence_without_bias():
    gpu_parity(lambda x, k: ops.dense(x, k, None, activation="relu"), [rand((3, 17, 5)), rand((5, 3), seed=1)], what="dense 3-D")


def test_views_read_through_strides():
    gpu_parity(lambda t: (t.T * 2.0).reshape(-1), [rand((17, 255))], what="transpose + reshape")
    gpu_parity(lambda t: fn.ops.transpose(t, (2, 0, 1)) + 1.0, [rand((3, 4, 17))], what="permute")
    gpu_parity(lambda t: t[1:, ::2] * t[1:, ::2], [rand((5, 17))], what="slice")
    gpu_parity(lambda t: t[..., 0] + t[::-2, 3:4].sum(), [rand((7, 17))], what="negative step and index")


def test_slice_backward_scatters_on_the_gpu():
    # Reversed (negative strides), indexed and partial slices; the gradient is scattered by a
    # GPU kernel, so a backward through a slice reads nothing back.
    gpu_parity(lambda t: t[::-1, 3][:6] + t[2, ::-3], [rand((17, 17))], what="reversed and indexed slices")
    gpu_parity(lambda t: t[1:, :, 5:] * 2.0, [rand((3, 255, 17))], what="3-D slice")
    gpu_parity(lambda t: t[:, 0] + t[:, -1], [rand((1025, 3))], what="columns")
    t = fn.tensor(rand((3, 17, 5))).to("gpu").detach()
    t.requires_grad = True
    loss = t[:, ::-2, 1:].sum()
    before = fn.config.memory_stats()["submits"]
    loss.backward()
    assert fn.config.memory_stats()["submits"] == before, "getitem's backward read something back"
    expected = np.zeros((3, 17, 5), np.float32)
    expected[:, ::-2, 1:] = 1.0
    np.testing.assert_array_equal(t.grad.numpy(), expected)


LOSSES = {
    "mse": (ops.mean_squared_error, False),
    "mae": (ops.mean_absolute_error, False),
    "huber": (lambda t, p: ops.huber(t, p, 0.7), False),
    "bce": (lambda t, p: ops.binary_crossentropy(t, p), True),
    "bce_logits_smoothed": (lambda t, p: ops.binary_crossentropy(t, p, from_logits=True, label_smoothing=0.1), False),
    "cce": (lambda t, p: ops.categorical_crossentropy(t, p), True),
    "cce_logits_smoothed": (lambda t, p: ops.categorical_crossentropy(t, p, from_logits=True, label_smoothing=0.2), False),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("rows,width", [(1, 3), (17, 10), (255, 1)])
def test_losses(name, rows, width):
    f, probabilities = LOSSES[name]
    rng = np.random.default_rng(rows)
    t = rng.uniform(0, 1, size=(rows, width)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, size=(rows, width)).astype(np.float32) if probabilities else rng.normal(size=(rows, width)).astype(np.float32)
    gpu_parity(f, [t, p], what=name)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy(from_logits):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 17, size=255)
    p = rng.uniform(0.05, 1.0, size=(255, 17)).astype(np.float32)
    gpu_parity(lambda q: ops.sparse_categorical_crossentropy(labels, q, from_logits=from_logits), [p], what="sparse cce")
    with pytest.raises(ValueError, match="labels in"):
        ops.sparse_categorical_crossentropy(np.full(255, 17), fn.tensor(p).to("gpu"))


def test_max_reduction():
    gpu_parity(lambda t: t.max(axis=1), [rand((17, 255))], what="max")

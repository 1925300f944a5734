"""The fused dense op on the GPU: one GEMM whose epilogue adds the bias and applies ReLU, sigmoid
or tanh (the activations whose derivative reads only the output); every other activation and
softmax as one more kernel. Outputs and gradients against the CPU on both GEMM kernels' tile
edges, odd operand layouts, the empty cases, f16 tiles, and the dispatch counts fusion saves."""

import numpy as np
import pytest

import ferronet as fn
from gpu.parity import gpu_parity, require_gpu
from helpers import sample

ops = fn.ops

FUSED = ["linear", "relu", "sigmoid", "tanh"]
SEPARATE = ["elu", "gelu", "leaky_relu", "hard_sigmoid", "softplus", "selu", "silu", "softmax"]


def arrays(rows, n_in, n_out, seed=0):
    return [sample((rows, n_in), seed=seed), sample((n_in, n_out), seed=seed + 1), sample((n_out,), seed=seed + 2)]


# Rows x inputs x units: the 64x64-tile kernel's edges, and the 128x128 one (from 256 rows and
# 256 units) with ragged last tiles.
SHAPES = [(1, 1, 1), (17, 3, 65), (65, 64, 63), (257, 33, 300), (300, 17, 256)]


@pytest.mark.parametrize("activation", FUSED + SEPARATE)
@pytest.mark.parametrize("rows,n_in,n_out", SHAPES)
def test_dense_matches_cpu(activation, rows, n_in, n_out):
    gpu_parity(lambda x, k, b: ops.dense(x, k, b, activation=activation), arrays(rows, n_in, n_out), what=f"dense {activation} {rows}x{n_in}x{n_out}")


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_dense_without_bias_and_on_odd_layouts(activation):
    x, k, _ = arrays(17, 9, 33)
    gpu_parity(lambda x, k: ops.dense(x, k, None, activation=activation), [x, k], what="no bias")
    # x read transposed (a stride view), x 3-D, the kernel transposed.
    gpu_parity(lambda xt, k, b: ops.dense(xt.T, k, b, activation=activation), [x.T.copy(), k, sample((33,))], what="x transposed")
    gpu_parity(lambda x, k, b: ops.dense(x, k, b, activation=activation), [sample((3, 5, 9)), k, sample((33,))], what="x 3-D")
    gpu_parity(lambda x, kt, b: ops.dense(x, kt.T, b, activation=activation), [x, k.T.copy(), sample((33,))], what="kernel transposed")


@pytest.mark.parametrize("rows,n_in,n_out", [(0, 3, 4), (3, 0, 4), (3, 4, 0)])
def test_dense_on_empty_operands_matches_cpu(rows, n_in, n_out):
    """No rows, no inputs (the bias and activation of zero), no units."""
    gpu_parity(lambda x, k, b: ops.dense(x, k, b, activation="sigmoid"), arrays(rows, n_in, n_out), what=f"empty {rows}x{n_in}x{n_out}")


def dispatches(f):
    before = fn.config.memory_stats()["dispatches"]
    f()
    return fn.config.memory_stats()["dispatches"] - before


@pytest.mark.parametrize("activation,kernels", [("relu", 1), ("linear", 1), ("tanh", 1), ("elu", 2), ("softmax", 2)])
def test_dense_forward_is_one_gemm_plus_at_most_one_kernel(activation, kernels):
    require_gpu()
    x, k, b = (fn.tensor(a).to("gpu") for a in arrays(32, 64, 10))
    with fn.no_grad():
        ops.dense(x, k, b, activation="relu")  # compile the pipelines outside the count
        assert dispatches(lambda: ops.dense(x, k, b, activation=activation)) == kernels


def test_fused_dense_under_medium_precision_rounds_the_operands_only():
    """f16 tiles with the epilogue: relu(x16 @ k16 + b) with the bias added in f32."""
    require_gpu()
    if "shader-f16" not in fn.config.gpu_info()["features"]:
        pytest.skip("the adapter has no shader-f16")
    x, k, b = arrays(65, 40, 70)
    fn.config.set_matmul_precision("medium")
    try:
        got = ops.dense(*(fn.tensor(a).to("gpu") for a in (x, k, b)), activation="relu").numpy()
    finally:
        fn.config.set_matmul_precision("highest")
    f16 = lambda a: a.astype(np.float16).astype(np.float64)  # noqa: E731
    want = np.maximum(f16(x) @ f16(k) + b.astype(np.float64), 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_dense_model_trains_on_the_gpu_like_the_cpu():
    """Sequential Dense layers (fused relu, separate elu, softmax head) through fit."""
    require_gpu()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12)).astype(np.float32)
    y = rng.integers(0, 3, size=256)
    losses = {}
    for device in ("cpu", "gpu"):
        fn.utils.set_random_seed(1)
        m = fn.Sequential([fn.Input((12,)), fn.layers.Dense(20, activation="relu"), fn.layers.Dense(9, activation="elu"),
                           fn.layers.Dense(3, activation="softmax")], device=device)
        m.compile(optimizer=fn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        losses[device] = m.fit(x, y, batch_size=32, epochs=3, verbose=0).history["loss"]
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], rtol=1e-4)

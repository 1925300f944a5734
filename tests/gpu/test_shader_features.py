"""The optional shader features: what the adapter reports, both variants of every kernel that has
one (subgroup reductions and their portable twins) against the CPU, and reduced matmul precision
(f16 GEMM tiles under ``set_matmul_precision("medium")``).

lavapipe offers ``shader-f16`` and ``subgroups``, so CI runs the feature variants; CI sets
``FERRONET_EXPECT_GPU_FEATURES`` so that an adapter without them fails here instead of skipping.
"""

import os

import numpy as np
import pytest

import ferronet as fn
from ferronet import _core
from gpu import test_norm_embedding_dropout_gpu as norm_tests
from gpu import test_ops_gpu as ops_tests
from gpu.parity import AWKWARD, gpu_parity, require_gpu
from helpers import sample

ops = fn.ops


def features():
    require_gpu()
    return fn.config.gpu_info()["features"]


@pytest.fixture(params=["features", "portable"])
def variant(request):
    """Run the test with the feature variants (where the adapter has them), then the portable ones."""
    require_gpu()
    _core.gpu_portable_kernels(request.param == "portable")
    yield request.param
    _core.gpu_portable_kernels(False)


def test_gpu_info_lists_the_features_in_use():
    require_gpu()
    info = fn.config.gpu_info()
    assert set(info["features"]) <= {"shader-f16", "subgroups"}
    expected = os.environ.get("FERRONET_EXPECT_GPU_FEATURES", "")
    missing = {f for f in expected.split(",") if f} - set(info["features"])
    assert not missing, f"FERRONET_EXPECT_GPU_FEATURES wants {sorted(missing)}; {info['name']} gives {info['features']}"
    low, high = info["subgroup_sizes"]
    if "subgroups" in info["features"]:
        assert 1 <= low <= high <= 128


def test_features_can_be_turned_off_at_startup():
    require_gpu()
    import subprocess
    import sys
    code = "import ferronet as fn; i = fn.config.gpu_info(); print(i and i['features'])"
    env = dict(os.environ, FERRONET_GPU_FEATURES="none")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    env["FERRONET_GPU_FEATURES"] = "tensor-cores"
    code = "import ferronet as fn; fn.config.set_device('gpu', strict=True)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "FERRONET_GPU_FEATURES" in out.stderr and "tensor-cores" in out.stderr, out.stderr


@pytest.mark.parametrize("cols", AWKWARD)
def test_row_reductions_and_softmax(variant, cols):
    x = sample((5, cols), low=-8, high=8, seed=cols)
    gpu_parity(lambda t: t.sum(axis=-1), [x], what=f"sum ({variant})")
    gpu_parity(lambda t: t.mean(axis=-1, keepdims=True), [x], what=f"mean ({variant})")
    gpu_parity(lambda t: ops.softmax(t, axis=-1), [x], what=f"softmax ({variant})")
    gpu_parity(lambda t: ops.log_softmax(t, axis=-1), [x], what=f"log_softmax ({variant})")


@pytest.mark.parametrize("shape", norm_tests.LN_SHAPES, ids=str)
def test_layer_norm(variant, shape):
    norm_tests.test_layer_norm_matches_cpu(shape)


@pytest.mark.parametrize("shape,axis", [((3, 17), -1), ((255, 3), 1), ((9000, 3), -1)], ids=str)
def test_batch_norm(variant, shape, axis):
    norm_tests.test_batch_norm_matches_cpu(shape, axis, training=True)


@pytest.mark.parametrize("name", sorted(ops_tests.LOSSES))
def test_losses(variant, name):
    ops_tests.test_losses(name, 17, 10)


@pytest.mark.parametrize("cols", [1, 9, 255, 300, 1025])
def test_max_with_nan_and_infinities_matches_numpy(cols):
    """The first NaN wins (NumPy's max); detected by its bits, as compilers may fold `v != v`."""
    require_gpu()
    x = sample((5, cols), seed=cols)
    x[1, cols - 1] = np.nan
    x[2, cols // 2] = np.inf
    x[3, :] = -np.inf
    x[4, 0] = np.nan
    gpu = fn.tensor(x).to("gpu").max(axis=1).numpy()
    np.testing.assert_array_equal(gpu, np.max(x, axis=1))
    np.testing.assert_array_equal(gpu, fn.tensor(x).max(axis=1).numpy())


def test_max_pooling_propagates_nan_on_the_gpu():
    require_gpu()
    img = sample((1, 4, 4, 1), seed=1)
    img[0, 1, 1, 0] = np.nan
    img[0, 3, 2, 0] = np.nan
    results = {}
    for device in ("cpu", "gpu"):
        model = fn.Sequential([fn.Input((4, 4, 1)), fn.layers.MaxPooling2D(2)], device=device)
        results[device] = np.asarray(model(img).numpy())  # predict refuses NaN inputs; a call does not
    np.testing.assert_array_equal(results["gpu"], results["cpu"])
    assert np.isnan(results["gpu"][0, 0, 0, 0]) and np.isnan(results["gpu"][0, 1, 1, 0])


# Reduced matmul precision.

@pytest.fixture
def medium():
    fn.config.set_matmul_precision("medium")
    yield
    fn.config.set_matmul_precision("highest")


def as_f16(a):
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float64)


def check_product(got, a, b, f16, what):
    """`got` is a @ b with f32 sums of products of operands rounded to f16 (`f16`) or not."""
    a64, b64 = (as_f16(a), as_f16(b)) if f16 else (np.float64(a), np.float64(b))
    want = a64 @ b64
    bound = 1e-5 * (np.abs(a64) @ np.abs(b64)) + 1e-7  # f32 accumulation of these exact products
    err = np.abs(np.float64(got) - want)
    assert (err <= bound).all(), f"{what}: off by {err.max():.3g} (bound {bound[err > bound].min():.3g})"
    if f16:
        # And not the f32 product: the operands really were rounded (far closer to the rounded
        # operands' product than to the exact one).
        off_exact = np.sqrt(np.mean((np.float64(got) - np.float64(a) @ np.float64(b)) ** 2))
        assert np.sqrt(np.mean(err ** 2)) < 0.1 * off_exact, f"{what}: no f16 rounding seen"


# Both GEMM kernels (64x64 tiles below 256 rows or columns, 128x128 from there), edges included.
SHAPES = [(3, 17, 5), (65, 64, 129), (257, 33, 300)]


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_medium_precision_rounds_gemm_operands_to_f16(medium, m, k, n):
    f16 = "shader-f16" in features()
    a, b = sample((m, k), seed=m), sample((k, n), seed=n)
    ta, tb = fn.tensor(a).to("gpu").detach(), fn.tensor(b).to("gpu").detach()
    ta.requires_grad = True
    w = sample((m, n), seed=7)
    out = ta @ tb
    check_product(out.numpy(), a, b, f16, f"{m}x{k}x{n}")
    (out * fn.tensor(w).to("gpu")).sum().backward()
    # The gradient is a GEMM too: dA = W @ B^T, its operands rounded the same way.
    check_product(ta.grad.numpy(), w, b.T, f16, f"gradient {m}x{k}x{n}")


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_highest_precision_and_the_portable_kernels_keep_f32(m, k, n):
    require_gpu()
    a, b = sample((m, k), seed=m), sample((k, n), seed=n)
    check_product((fn.tensor(a).to("gpu") @ fn.tensor(b).to("gpu")).numpy(), a, b, False, "highest")
    fn.config.set_matmul_precision("medium")
    _core.gpu_portable_kernels(True)
    try:
        check_product((fn.tensor(a).to("gpu") @ fn.tensor(b).to("gpu")).numpy(), a, b, False, "medium, portable kernels")
    finally:
        _core.gpu_portable_kernels(False)
        fn.config.set_matmul_precision("highest")


def test_matmul_precision_setting():
    assert fn.config.get_matmul_precision() == "highest"
    for p in ("high", "medium", "highest"):
        fn.config.set_matmul_precision(p)
        assert fn.config.get_matmul_precision() == p
    with pytest.raises(ValueError, match="set_matmul_precision.*'low'"):
        fn.config.set_matmul_precision("low")
    assert fn.config.get_matmul_precision() == "highest"


def test_a_model_trains_under_medium_precision_like_under_highest(medium):
    """Dense layers' GEMMs (forward and both gradients) with f16 operands: the digits MLP still
    learns to the same accuracy."""
    require_gpu()
    (x, y), (xt, yt) = fn.datasets.digits.load_data()
    x = x.reshape(len(x), -1).astype(np.float32) / 16
    xt = xt.reshape(len(xt), -1).astype(np.float32) / 16
    accuracy = {}
    for precision in ("highest", "medium"):
        fn.config.set_matmul_precision(precision)
        fn.utils.set_random_seed(5)
        model = fn.Sequential([fn.Input((64,)), fn.layers.Dense(64, activation="relu"), fn.layers.Dense(10, activation="softmax")], device="gpu")
        model.compile(optimizer=fn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=5, batch_size=64, verbose=0)
        accuracy[precision] = model.evaluate(xt, yt, verbose=0)[1]
    assert accuracy["medium"] >= 0.9, accuracy
    assert abs(accuracy["medium"] - accuracy["highest"]) <= 0.02, accuracy

"""The device API: naming, choosing and falling back, moving tensors, and clear errors."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import DeviceError
from gpu.parity import require_gpu


def run_python(code, **env):
    """Run `code` in a fresh interpreter (import-time behaviour, environment variables)."""
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_never_probes_the_gpu():
    assert run_python("import ferronet, ferronet._core as c; print(c.gpu_probed())") == "False"


@pytest.mark.parametrize("name,canonical", [("cpu", "cpu"), ("GPU", "gpu"), ("gpu:0", "gpu"), ("/device:GPU:0", "gpu"), (" cpu:0 ", "cpu")])
def test_device_names(name, canonical):
    assert fn.config.canonical(name) == canonical


@pytest.mark.parametrize("bad", ["tpu", "cuda", "gpu:1", "", 3])
def test_unknown_device_names_are_clear_errors(bad):
    with pytest.raises(DeviceError, match="expected \"cpu\" or \"gpu\""):
        fn.config.canonical(bad)
    with pytest.raises(DeviceError):
        fn.config.set_device(bad)
    with pytest.raises(DeviceError):
        fn.Sequential([fn.Input((2,)), fn.layers.Dense(1)], device=bad)


def test_tensor_to_unknown_device():
    with pytest.raises(DeviceError, match="tpu"):
        fn.tensor([1.0]).to("tpu")


def test_list_devices_and_info():
    require_gpu()
    assert fn.config.list_devices() == ["cpu:0", "gpu:0"]
    assert fn.config.list_devices("gpu") == ["gpu:0"]
    info = fn.config.gpu_info()
    assert set(info) == {"name", "backend", "device_type", "driver", "max_binding_bytes", "features", "subgroup_sizes"}
    assert info["max_binding_bytes"] > 0


def test_context_and_default_nest():
    require_gpu()
    assert fn.config.get_device() == "cpu"
    with fn.device("gpu"):
        assert fn.config.get_device() == "gpu"
        with fn.device("cpu"):
            assert fn.config.get_device() == "cpu"
        assert fn.config.get_device() == "gpu"
    assert fn.config.get_device() == "cpu"
    try:
        assert fn.config.set_device("gpu") == "gpu"
        m = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)])
        assert m.device == "gpu"
        assert fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)], device="cpu").device == "cpu"
    finally:
        fn.config.set_device("cpu")


def test_environment_variable_chooses_the_device():
    require_gpu()
    code = """
        import numpy as np, ferronet as fn
        m = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)])
        m.predict(np.ones((2, 3), np.float32), verbose=0)
        print(m.device, m.weights[0].device)
    """
    assert run_python(code, FERRONET_DEVICE="gpu") == "gpu gpu"


def test_without_an_adapter_gpu_warns_once_and_runs_on_cpu():
    # No Vulkan driver visible: wgpu finds no adapter.
    code = """
        import warnings, numpy as np, ferronet as fn
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert fn.config.set_device("gpu") == "cpu"
            assert fn.config.set_device("gpu") == "cpu"
            m = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2)], device="gpu")
            m.compile(loss="mse")
            m.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)
        print(len([w for w in caught if "no GPU adapter" in str(w.message)]), m.device)
        try:
            fn.config.set_device("gpu", strict=True)
        except fn.errors.DeviceError as e:
            print("strict:", "GPU adapter" in str(e))
        print(fn.config.list_devices())
    """
    out = run_python(code, VK_ICD_FILENAMES="/nonexistent.json", VK_DRIVER_FILES="/nonexistent.json")
    assert out.splitlines() == ["1 cpu", "strict: True", "['cpu:0']"]


def test_tensor_round_trip_and_device_property():
    require_gpu()
    a = np.random.default_rng(0).normal(size=(3, 1025)).astype(np.float32)
    t = fn.tensor(a).to("gpu")
    assert t.device == "gpu"
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(np.asarray(t), a)
    back = t.to("cpu")
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), a)
    # A view (transpose) reads back through a strided copy.
    np.testing.assert_array_equal(t.T.numpy(), a.T)


def test_moving_a_tensor_is_differentiable():
    require_gpu()
    x = fn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x.to("gpu") * x.to("gpu")).sum()
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_mixing_devices_is_a_clear_error():
    require_gpu()
    a = fn.tensor(np.ones((2, 3), np.float32))
    b = a.to("gpu")
    with pytest.raises(DeviceError, match="add: expected all operands on"):
        a + b
    with pytest.raises(DeviceError, match="matmul"):
        a @ b.T
    # A Python scalar (or one-element CPU constant) next to a GPU tensor is fine.
    np.testing.assert_allclose((b * 2 + 1).numpy(), np.full((2, 3), 3.0))


def test_a_tensor_too_large_for_the_adapter():
    require_gpu()
    limit = fn.config.gpu_info()["max_binding_bytes"]
    if limit > 1 << 31:
        pytest.skip("the adapter binds more than 2 GiB; not worth allocating here")
    n = limit // 4 + 1
    big = np.zeros(n, np.float32)
    with pytest.raises(DeviceError, match="largest storage binding"):
        fn.tensor(big).to("gpu")

"""GPU parity: an op or a model run on the GPU must match the CPU backend.

`gpu_parity(f, arrays)` runs ``f`` on CPU tensors and on GPU tensors made from the same arrays,
then compares the outputs and the gradients of ``sum(out * w)`` (``w`` seeded random weights)
with respect to every input, within ``BALANCED`` (float32 accumulation order differs between
the devices). With ``native=True`` it also checks that no op fell back to the CPU on the way
(`ferronet.config.cpu_fallbacks()` unchanged): the GPU kernels, not a round trip, produced it.
"""

import os

import numpy as np
import pytest

import ferronet as fn
from helpers import BALANCED, assert_close

#: Sizes that cross workgroup and tile edges (1, 3, 17, 255, 1025), per the GPU issue.
AWKWARD = (1, 3, 17, 255, 1025)


def have_gpu():
    return fn.config.gpu_info() is not None


def require_gpu():
    """Skip without an adapter, unless FERRONET_REQUIRE_GPU=1 (CI), where it fails instead."""
    if have_gpu():
        return
    if os.environ.get("FERRONET_REQUIRE_GPU") == "1":
        pytest.fail("FERRONET_REQUIRE_GPU=1 but no GPU adapter was found (install mesa-vulkan-drivers for lavapipe)")
    pytest.skip("no GPU adapter")


def leaf(array, device):
    """A leaf tensor on `device` that requires grad."""
    t = fn.tensor(np.asarray(array, dtype=np.float32))
    if device == "gpu":
        t = t.to("gpu").detach()
    t.requires_grad = True
    return t


def run(f, arrays, device, weights_seed=0, grad=True):
    inputs = [leaf(a, device) for a in arrays]
    out = f(*inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    values = [o.numpy() for o in outs]
    grads = []
    if grad:
        total = None
        for i, o in enumerate(outs):
            w = np.random.default_rng(weights_seed + i).uniform(-1, 1, size=o.shape).astype(np.float32)
            w_t = fn.tensor(w).to(device) if device == "gpu" else fn.tensor(w)
            term = (o * w_t).sum()
            total = term if total is None else total + term
        total.backward()
        grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
        for t in inputs:
            if t.grad is not None:
                assert t.grad.device == device, f"gradient on {t.grad.device}, expected {device}"
    return outs, values, grads


def gpu_parity(f, arrays, tol=BALANCED, grad=True, native=True, what=""):
    """Compare `f` on the GPU with `f` on the CPU (outputs and input gradients)."""
    require_gpu()
    _, cpu_values, cpu_grads = run(f, arrays, "cpu", grad=grad)
    before = fn.config.cpu_fallbacks()
    outs, gpu_values, gpu_grads = run(f, arrays, "gpu", grad=grad)
    after = fn.config.cpu_fallbacks()
    for o in outs:
        assert o.device == "gpu", f"{what}: output on {o.device}"
    if native:
        assert after == before, f"{what}: ops fell back to the CPU: {({k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)})}"
    for i, (g, c) in enumerate(zip(gpu_values, cpu_values)):
        assert_close(g, c, tol, f"{what} output {i}")
    for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
        assert (g is None) == (c is None), f"{what}: gradient {i} present on one device only"
        if g is not None:
            assert_close(g, c, tol, f"{what} gradient of input {i}")

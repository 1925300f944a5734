"""Devices: where models and tensors run.

ferronet has two devices: ``"cpu"`` (the engine's SIMD kernels on every core) and ``"gpu"`` (one
Vulkan, Metal or DX12 adapter through wgpu). Importing ferronet never touches the GPU; the adapter
is probed the first time something asks for it.

A model runs on, in order of precedence: the ``device=`` it was given (``Sequential(...,
device=)`` or ``compile(..., device=)``), the innermost ``with ferronet.device(...)`` block, the
device chosen by ``set_device``, the ``FERRONET_DEVICE`` environment variable, else the CPU.
A request for ``"gpu"`` on a machine without an adapter warns once and runs on the CPU;
``strict=True`` raises ``DeviceError`` instead.

>>> import ferronet as fn
>>> fn.config.list_devices()[0]
'cpu:0'
>>> with fn.device("cpu"):
...     fn.config.get_device()
'cpu'
"""

import contextlib
import os
import threading
import warnings

from ferronet import _core
from ferronet.errors import DeviceError

__all__ = [
    "list_devices", "gpu_info", "set_device", "get_device", "device", "cpu_fallbacks", "memory_stats", "empty_cache",
    "synchronize", "set_matmul_precision", "get_matmul_precision",
]

_local = threading.local()  # the `device()` context stack, per thread
_chosen = None  # set by set_device
_warned_no_gpu = False


def canonical(name):
    """``"cpu"`` or ``"gpu"`` for the spellings users write (``"GPU"``, ``"gpu:0"``, ``"/device:GPU:0"``)."""
    if not isinstance(name, str):
        raise DeviceError(f"device: expected \"cpu\" or \"gpu\", got {name!r}")
    n = name.strip().lstrip("/").lower()
    n = n[len("device:"):] if n.startswith("device:") else n
    n = n[:-2] if n.endswith(":0") else n
    if n not in ("cpu", "gpu"):
        raise DeviceError(f"device: expected \"cpu\" or \"gpu\", got {name!r}")
    return n


def gpu_info():
    """The GPU adapter as a dict, or None: ``name``, ``backend``, ``device_type``, ``driver``,
    ``max_binding_bytes`` (the largest tensor one kernel can address), ``features`` (the optional
    shader features in use: ``"shader-f16"``, ``"subgroups"``) and ``subgroup_sizes``.

    The first call probes for the adapter (a fraction of a second); later calls are free. The
    environment variable ``FERRONET_GPU_FEATURES`` (read at that probe) limits the features:
    ``"none"``, or a list such as ``"subgroups"``; the default ``"auto"`` uses every one the adapter
    offers. Each feature's kernels have a portable twin, used where it is off.
    """
    ok, info = _core.gpu_probe()
    return info if ok else None


def list_devices(device_type=None):
    """Device names, as Keras's ``list_devices``: ``["cpu:0"]``, plus ``"gpu:0"`` when an adapter exists.

    Args:
        device_type: ``"cpu"`` or ``"gpu"`` to list only that kind.
    """
    kinds = ["cpu"] + (["gpu"] if gpu_info() is not None else [])
    if device_type is not None:
        wanted = canonical(device_type)
        kinds = [k for k in kinds if k == wanted]
    return [f"{k}:0" for k in kinds]


def resolve(name, strict=False):
    """The device that will actually run a request for ``name``: ``"gpu"`` falls back to ``"cpu"``
    (one warning per process) when there is no adapter, or raises ``DeviceError`` when ``strict``."""
    global _warned_no_gpu
    n = canonical(name)
    if n == "cpu":
        return n
    ok, why = _core.gpu_probe()
    if ok:
        return n
    if strict:
        raise DeviceError(f"device: expected a GPU adapter for \"gpu\", got none ({why})")
    if not _warned_no_gpu:
        _warned_no_gpu = True
        warnings.warn(f"ferronet: no GPU adapter ({why}); running on the CPU", RuntimeWarning, stacklevel=3)
    return "cpu"


def set_device(name, strict=False):
    """Make ``name`` (``"cpu"`` or ``"gpu"``) the default device for models without their own.

    Returns the device that will run (``"cpu"`` when a GPU was asked for and none exists).
    """
    global _chosen
    resolved = resolve(name, strict)
    _chosen = resolved
    return resolved


def get_device():
    """The device a model without its own ``device=`` runs on now."""
    stack = getattr(_local, "stack", None)
    if stack:
        return stack[-1]
    if _chosen is not None:
        return _chosen
    env = os.environ.get("FERRONET_DEVICE")
    if env:
        return resolve(env)
    return "cpu"


@contextlib.contextmanager
def device(name, strict=False):
    """Run models (without their own ``device=``) on ``name`` inside the block.

    >>> import ferronet as fn
    >>> with fn.device("cpu"):
    ...     fn.config.get_device()
    'cpu'
    """
    resolved = resolve(name, strict)
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(resolved)
    try:
        yield resolved
    finally:
        stack.pop()


def cpu_fallbacks():
    """``{op: calls}`` for ops that ran on the CPU for GPU tensors because they have no GPU kernel yet."""
    return dict(_core.cpu_fallbacks())


def memory_stats():
    """The GPU buffer pool and work so far: ``{"allocated_bytes", "free_bytes", "allocations",
    "submits", "dispatches"}`` (dispatches: compute kernels recorded), or None before the GPU was
    used (or without one)."""
    stats = _core.gpu_memory_stats()
    if stats is None:
        return None
    keys = ("allocated_bytes", "free_bytes", "allocations", "submits", "dispatches")
    return dict(zip(keys, stats))


def empty_cache():
    """Free the GPU pool's unused buffers."""
    _core.gpu_empty_cache()


def synchronize():
    """Wait for all recorded GPU work (for timing)."""
    _core.gpu_synchronize()


_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def set_matmul_precision(precision):
    """How precisely GPU matrix products are computed, as PyTorch's ``set_float32_matmul_precision``.

    ``"highest"`` (the default) and ``"high"``: float32 throughout. ``"medium"``: on an adapter with
    ``shader-f16`` (see ``gpu_info()["features"]``), the GEMMs behind ``matmul``, ``Dense`` and the
    recurrent layers round their operands to float16 (about three decimal digits; values beyond
    +-65504 do not fit) while products and sums stay float32. Convolutions and the CPU are
    unaffected. Applies to products recorded after the call.
    """
    global _matmul_precision
    if precision not in _PRECISIONS:
        raise ValueError(f"set_matmul_precision: expected one of {_PRECISIONS}, got {precision!r}")
    _core.set_reduced_matmul_precision(precision == "medium")
    _matmul_precision = precision


def get_matmul_precision():
    """The setting of ``set_matmul_precision``: ``"highest"``, ``"high"`` or ``"medium"``."""
    return _matmul_precision

"""ferronet: Keras-shaped deep learning for Python with a Rust engine.

`import ferronet as keras` runs ordinary Keras `Sequential` scripts.

>>> import ferronet as fn
>>> (fn.tensor([1.0, 2.0]) * 3).numpy().tolist()
[3.0, 6.0]
"""

import os as _os

# The engine allocates with mimalloc; by default it hands freed pages back to the OS after 10 ms,
# and a training step's large buffers then come back as fresh pages that the kernel must fault in
# and zero (a third of a convnet step, W3 in BENCHMARKS.md). Keep them; the memory is reused on
# the next step. Set MIMALLOC_PURGE_DELAY yourself to choose otherwise.
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")

from ferronet import (  # noqa: E402
    activations,
    callbacks,
    config,
    datasets,
    distribute,
    errors,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    plot,
    regularizers,
    saving,
    utils,
)
from ferronet._core import Tensor, __version__  # noqa: E402
from ferronet.config import device  # noqa: E402
from ferronet._grad_mode import enable_grad, no_grad  # noqa: E402
from ferronet.layers import Input  # noqa: E402
from ferronet.models import Sequential  # noqa: E402

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "Sequential", "Input", "activations", "callbacks", "config", "device",
    "datasets", "distribute", "errors", "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers", "regularizers", "saving",
    "plot", "utils", "__version__",
]


def tensor(data, requires_grad=False):
    """Make a `Tensor` from array-like data (float32 C-contiguous arrays are shared, not copied).

    Args:
        data: a NumPy array, nested lists, a Python number or a `Tensor`.
        requires_grad: record operations on it for `backward()`. Default False.

    Returns:
        A float32 `Tensor`.

    Example:
    >>> t = tensor([[1, 2], [3, 4]], requires_grad=True)
    >>> t.shape
    (2, 2)
    """
    return Tensor(data, requires_grad=requires_grad)

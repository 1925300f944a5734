"""ferronet: Keras-shaped deep learning for Python with a Rust engine.

`import ferronet as keras` runs ordinary Keras `Sequential` scripts.

>>> import ferronet as fn
>>> (fn.tensor([1.0, 2.0]) * 3).numpy().tolist()
[3.0, 6.0]
"""

from ferronet import (
    activations,
    callbacks,
    datasets,
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
    utils,
)
from ferronet._core import Tensor, __version__
from ferronet._grad_mode import enable_grad, no_grad
from ferronet.layers import Input
from ferronet.models import Sequential

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "Sequential", "Input", "activations", "callbacks",
    "datasets", "errors", "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers", "regularizers",
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

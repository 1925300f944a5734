"""Utilities: `to_categorical`, `set_random_seed`, `Progbar`.

Example:
>>> import ferronet as fn
>>> fn.utils.to_categorical([0, 2], num_classes=3).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

import random

import numpy as np

from ferronet import _random
from ferronet._naming import clear_session
from ferronet.utils.progbar import Progbar

__all__ = ["to_categorical", "set_random_seed", "Progbar", "clear_session"]


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels (a trailing axis of 1 is dropped, as Keras does)."""
    x = np.asarray(x)
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and (not np.all(np.equal(np.mod(x, 1), 0)) or x.min() < 0):
        raise ValueError("to_categorical: expected non-negative integer class labels")
    labels = x.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"to_categorical: expected labels below num_classes={num_classes}, got {int(labels.max())}")
    out = np.zeros(labels.shape + (num_classes,), np.float32)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global RNG and ferronet's own generator (initializers,
    shuffling, dropout), so a run repeats bit for bit on the CPU."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"set_random_seed: expected an int seed, got seed={seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _random.seed(seed)

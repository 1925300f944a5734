"""The library-wide random state: initializers draw from it, `fit` takes shuffle seeds from it.
`ferronet.utils.set_random_seed` reseeds it, which makes a whole run repeatable."""

import numpy as np

_generator = np.random.default_rng()


def generator():
    return _generator


def seed(value):
    global _generator
    _generator = np.random.default_rng(value)


def next_seed():
    """A fresh 63-bit seed for the engine's generator (shuffles, dropout masks)."""
    return int(_generator.integers(0, 2**63 - 1))

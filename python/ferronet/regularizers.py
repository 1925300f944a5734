"""Weight penalties: `L1(l1=0.01)`, `L2(l2=0.01)`, `L1L2(l1=0.0, l2=0.0)` and the strings
"l1", "l2", "l1_l2". A penalty is `l1 * sum(|w|) + l2 * sum(w^2)` (no 1/2, as Keras) and is added
to the loss that training reports.

Example:
>>> import ferronet as fn
>>> float(fn.regularizers.L2(0.5)([[1.0, 2.0]]))
2.5
"""

import math

import numpy as np


class Regularizer:
    """Base class: `regularizer(weights)` returns the penalty as a float."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        x = np.asarray(x, np.float64)
        return self.l1 * float(np.abs(x).sum()) + self.l2 * float(np.square(x).sum())

    def _engine_spec(self):
        return {"l1": float(self.l1), "l2": float(self.l2)}

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check(name, value):
    """Keras's `validate_float_arg`: a finite non-negative number (ints and NumPy scalars too)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"regularizers: expected a finite {name} >= 0, got {name}={value!r}")
    return float(value)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        # None means 0.0 here, as in Keras (so L1L2(l2=0.1) has no l1 penalty).
        self.l1 = _check("l1", 0.0 if l1 is None else l1)
        self.l2 = _check("l2", 0.0 if l2 is None else l2)


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = _check("l1", 0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = _check("l2", 0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


# "l1l2" is Keras 3's own snake_case key for L1L2; "l1_l2" is its public alias name.
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A regularizer from a name ("l1", "l2", "l1_l2"), a config dict or an instance; None passes."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"regularizers: unknown regularizer {identifier!r}; known: l1, l2, l1_l2, l1l2")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"regularizers: could not interpret regularizer {identifier!r}")


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__, "config": regularizer.get_config(), "registered_name": None}


def spec(regularizer):
    """The engine's form of a regularizer (or None)."""
    return None if regularizer is None else regularizer._engine_spec()

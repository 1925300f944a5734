"""Keras-style automatic names: `dense`, `dense_1`, ... per snake_case base, process-wide."""

import re
from collections import defaultdict

_counters = defaultdict(int)


def to_snake_case(name):
    """`BatchNormalization` -> `batch_normalization`, `Conv2D` -> `conv2d`, as Keras names layers
    (Keras's rule: no underscore between a digit and a capital)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base):
    """`base` the first time, then `base_1`, `base_2`, ..."""
    count = _counters[base]
    _counters[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session():
    """Reset the automatic name counters (Keras's `keras.backend.clear_session()`)."""
    _counters.clear()

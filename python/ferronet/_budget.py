"""A cap on the weights a model built from a file may allocate. A file's config can declare any
size (`Dense(units=2**40)`); while a loader builds it, `Layer.add_weight` charges each weight to
the budget the file can justify (its weights entry's size) and refuses before allocating."""

import contextlib
import contextvars
import math

from ferronet.errors import FileFormatError

_budget = contextvars.ContextVar("ferronet_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(elements, where):
    """Within the block, layers may create at most `elements` weight values in all."""
    token = _budget.set([int(elements), where])
    try:
        yield
    finally:
        _budget.reset(token)


def charge(layer_name, weight_name, shape):
    """Account for a weight about to be created; FileFormatError if the budget cannot hold it."""
    budget = _budget.get()
    if budget is None:
        return
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise FileFormatError(f"{budget[1]}: {layer_name}/{weight_name}: expected a shape of non-negative ints, got {tuple(shape)}")
    size = math.prod(shape)
    if size > budget[0]:
        raise FileFormatError(f"{budget[1]}: {layer_name}/{weight_name}: a weight of shape {tuple(shape)} ({size} values) is more "
                              f"than the file's weights can hold ({budget[0]} values left)")
    budget[0] -= size

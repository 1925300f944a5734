"""ELU: `x` for x > 0, `alpha * (exp(x) - 1)` below."""

import math

from ferronet import _core
from ferronet.layers.layer import Layer


class ELU(Layer):
    """Exponential linear unit.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.ELU()(fn.tensor([[0.0, 2.0]])).numpy().tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if alpha is None or not math.isfinite(alpha):
            raise ValueError(f"ELU: expected a finite alpha, got alpha={alpha}")
        self.alpha = alpha

    def _make_engine_layer(self):
        return _core.Layer.activation(self.name, "elu", {"alpha": self.alpha})

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}

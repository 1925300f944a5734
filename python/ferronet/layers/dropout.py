"""Dropout: zero a fraction `rate` of the inputs in training, scale the rest by 1/(1-rate)."""

from ferronet import _core
from ferronet.layers.layer import Layer


def check_rate(layer, rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"{layer}: expected rate in [0, 1), got rate={rate!r}")
    return float(rate)


class Dropout(Layer):
    """Inverted dropout, active only when training (`fit`, `train_on_batch`, `model(x, training=True)`).

    Args:
        rate: fraction of the inputs to drop, in [0, 1).
        noise_shape: the mask's shape (None entries follow the input), e.g. `(None, 1, 64)` to
            drop whole timesteps; the mask broadcasts over axes of size 1.
        seed: a seed for this layer's own generator (same seed, same masks).

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Dropout(0.5)(fn.tensor([[1.0, 2.0]])).numpy().tolist()
    [[1.0, 2.0]]
    """

    _kind = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(type(self).__name__, rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed

    def _make_engine_layer(self):
        shape = list(self.noise_shape) if self.noise_shape is not None else None
        return _core.Layer.noise(self.name, self._kind, self.rate, shape, self.seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}

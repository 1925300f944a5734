"""GaussianNoise: add N(0, stddev^2) noise in training (a regularizer, and data augmentation)."""

import math

from ferronet import _core
from ferronet.layers.layer import Layer


class GaussianNoise(Layer):
    """Additive zero-centred Gaussian noise, active only when training.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GaussianNoise(0.1)(fn.tensor([[1.0]])).numpy().tolist()
    [[1.0]]
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stddev, (int, float)) or not math.isfinite(stddev) or stddev < 0:
            raise ValueError(f"GaussianNoise: expected a finite stddev >= 0, got stddev={stddev!r}")
        self.stddev, self.seed = float(stddev), seed

    def _make_engine_layer(self):
        return _core.Layer.noise(self.name, "gaussian_noise", self.stddev, None, self.seed)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}

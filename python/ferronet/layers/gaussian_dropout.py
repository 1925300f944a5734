"""GaussianDropout: multiply by N(1, rate/(1-rate)) noise in training."""

from ferronet import _core
from ferronet.layers.dropout import check_rate
from ferronet.layers.layer import Layer


class GaussianDropout(Layer):
    """Multiplicative 1-centred Gaussian noise, active only when training.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GaussianDropout(0.2)(fn.tensor([[1.0]])).numpy().tolist()
    [[1.0]]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = check_rate("GaussianDropout", rate), seed

    def _make_engine_layer(self):
        return _core.Layer.noise(self.name, "gaussian_dropout", self.rate, None, self.seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

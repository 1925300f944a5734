"""ActivityRegularization: the identity, adding `l1 * sum|x| + l2 * sum x^2` (over the batch
size) to the training loss."""

from ferronet import _core, regularizers
from ferronet.layers.layer import Layer


class ActivityRegularization(Layer):
    """Penalise large activations without changing them.

    Args:
        l1: L1 factor (default 0.0). l2: L2 factor (default 0.0).

    Example:
    >>> import ferronet as fn
    >>> fn.layers.ActivityRegularization(l2=0.1)(fn.tensor([[1.0, 2.0]])).numpy().tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self.regularizer.l1, self.regularizer.l2

    def _make_engine_layer(self):
        return _core.Layer.activity_regularization(self.name, regularizers.spec(self.regularizer))

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}

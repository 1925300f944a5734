"""LayerNormalization over the last axis (Keras default epsilon 1e-3)."""

from ferronet import _core, initializers, regularizers
from ferronet.layers.layer import Layer


class LayerNormalization(Layer):
    """Normalise each sample's features (last axis) to zero mean and unit variance, then scale
    by gamma and shift by beta. Same in training and inference.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.LayerNormalization()(fn.tensor([[1.0, 3.0]])).numpy().round(3).tolist()
    [[-1.0, 1.0]]
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)):
            raise NotImplementedError(f"LayerNormalization: only axis=-1 is supported, got axis={axis!r}")
        if beta_constraint is not None or gamma_constraint is not None:
            raise NotImplementedError("LayerNormalization: constraints are not supported yet")
        if epsilon <= 0:
            raise ValueError(f"LayerNormalization: expected epsilon > 0, got epsilon={epsilon}")
        self.axis, self.epsilon, self.center, self.scale = -1, float(epsilon), center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        width = input_shape[-1]
        self.gamma = self.add_weight("gamma", (width,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", (width,), self.beta_initializer) if self.center else None
        self.built = True

    def _make_engine_layer(self):
        config = {"gamma_regularizer": regularizers.spec(self.gamma_regularizer), "beta_regularizer": regularizers.spec(self.beta_regularizer)}
        return _core.Layer.layer_normalization(self.name, self.epsilon, self.gamma, self.beta, config)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}

"""BatchNormalization with Keras 3's rules (momentum 0.99, epsilon 1e-3, biased variance)."""

from ferronet import _core, initializers, regularizers
from ferronet.layers.layer import Layer


class BatchNormalization(Layer):
    """Normalise each channel (along `axis`) by batch statistics in training and by moving
    statistics in inference, or whenever the layer is frozen (`trainable=False`).

    Args:
        axis: the channel axis (default -1). momentum: 0.99. epsilon: 1e-3.
        center, scale: learn beta / gamma (default True).

    Weights (Keras order): gamma, beta, moving_mean, moving_variance.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.BatchNormalization()(fn.tensor([[1.0], [3.0]])).shape
    (2, 1)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm or beta_constraint is not None or gamma_constraint is not None:
            raise NotImplementedError("BatchNormalization: renorm and constraints are not supported yet")
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: expected an int axis, got axis={axis!r}")
        if not 0 <= momentum <= 1 or epsilon <= 0:
            raise ValueError(f"BatchNormalization: expected momentum in [0, 1] and epsilon > 0, got momentum={momentum}, epsilon={epsilon}")
        self.axis, self.momentum, self.epsilon, self.center, self.scale = axis, float(momentum), float(epsilon), center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape):
            raise ValueError(f"{self.name}: expected axis in [-{len(input_shape)}, {len(input_shape)}), got axis={self.axis} for input shape {tuple(input_shape)}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"{self.name}: expected a known channel axis, got input shape {tuple(input_shape)}")
        self.gamma = self.add_weight("gamma", (channels,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", (channels,), self.beta_initializer) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (channels,), self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (channels,), self.moving_variance_initializer, trainable=False)
        self.built = True

    def _make_engine_layer(self):
        config = {"gamma_regularizer": regularizers.spec(self.gamma_regularizer), "beta_regularizer": regularizers.spec(self.beta_regularizer)}
        return _core.Layer.batch_normalization(self.name, self.axis, self.momentum, self.epsilon, self.gamma, self.beta,
                                               self.moving_mean, self.moving_variance, self.trainable, config)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}

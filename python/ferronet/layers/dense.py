"""Dense: `activation(inputs @ kernel + bias)`, the engine's fused dense op."""

from ferronet import _core, activations, initializers, regularizers
from ferronet.layers.layer import Layer


class Dense(Layer):
    """A densely connected layer on the last axis.

    Args:
        units: positive int, the output size.
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias vector. Default True.
        kernel_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer: penalties on the weights (`ferronet.regularizers`).
        activity_regularizer: a penalty on the output, divided by the batch size (as Keras).

    Input shape: `(batch, ..., in)`. Output shape: `(batch, ..., units)`. Kernel: `(in, units)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Dense(3)(fn.tensor([[1.0, 2.0]])).shape
    (1, 3)
    """

    _native_activity = True  # the engine's Dense applies activity_regularizer itself

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: expected units to be a positive int, got units={units!r}")
        for arg, value in (("kernel_constraint", kernel_constraint), ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"Dense: {arg} is not supported yet")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.units = units
        self.activation = activations.get(activation)
        self._activation_name = activations.serialize(self.activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"{self.name}: expected a known last axis, got input shape {tuple(input_shape)}")
        self.kernel = self.add_weight("kernel", (in_dim, self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _make_engine_layer(self):
        config = {"kernel_regularizer": regularizers.spec(self.kernel_regularizer),
                  "bias_regularizer": regularizers.spec(self.bias_regularizer),
                  "activity_regularizer": regularizers.spec(self.activity_regularizer)}
        return _core.Layer.dense(self.name, self.kernel, self.bias, self._activation_name, config)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self._activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        for key in ("kernel_constraint", "bias_constraint"):
            config.pop(key, None)
        return cls(**config)

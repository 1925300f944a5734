"""TimeDistributed: one layer applied to every timestep of a sequence."""

from ferronet import _core
from ferronet.layers.layer import Layer


class TimeDistributed(Layer):
    """Apply `layer` to each timestep: input `(batch, timesteps, ...)`, the inner layer sees
    `(batch * timesteps, ...)`, its weights shared across timesteps.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.TimeDistributed(fn.layers.Dense(2))(np.zeros((3, 4, 5), "float32")).shape
    (3, 4, 2)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a layer, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(f"{self.name}: expected an input of rank 3 or more (batch, timesteps, ...), "
                             f"got input shape {input_shape}")
        self.layer._ensure_built((None,) + input_shape[2:])
        self._weights = self.layer._weights
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    @Layer.trainable.setter
    def trainable(self, value):
        self.layer.trainable = value
        Layer.trainable.fset(self, value)

    def _make_engine_layer(self):
        return _core.Layer.time_distributed(self.name, self.layer._engine_layer())

    def get_config(self):
        return {**super().get_config(),
                "layer": {"module": "keras.layers", "class_name": type(self.layer).__name__,
                          "config": self.layer.get_config(), "registered_name": None}}

    @classmethod
    def from_config(cls, config):
        from ferronet.layers import get_layer_class

        config = dict(config)
        config.pop("dtype", None)
        inner = config.pop("layer")
        return cls(get_layer_class(inner["class_name"]).from_config(inner["config"]), **config)

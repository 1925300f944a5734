"""Masking: timesteps whose features all equal `mask_value` are padding."""

import numpy as np

from ferronet import _core
from ferronet.layers.layer import Layer


class Masking(Layer):
    """Mark padded timesteps for the layers after it (recurrent layers skip them).

    Args:
        mask_value: a timestep is padding when every feature equals it. Default 0.0.

    Input `(batch, timesteps, features)`; the output is the input with padded timesteps set
    to zero, and a timestep mask `(batch, timesteps)`.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> x = np.array([[[1.0], [0.0]]], "float32")
    >>> fn.layers.Masking().compute_mask(x).tolist()
    [[True, False]]
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def _make_engine_layer(self):
        return _core.Layer.masking(self.name, self.mask_value)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}

"""Embedding: integer indices to dense vectors, optionally marking index 0 as padding."""

import numpy as np

from ferronet import _core, initializers, regularizers
from ferronet.layers.layer import Layer
from ferronet.layers.rnn import warn_deprecated


class Embedding(Layer):
    """Turn indices in `[0, input_dim)` into vectors of `output_dim`.

    Args:
        input_dim: the vocabulary size (largest index + 1).
        output_dim: the vector size.
        embeddings_initializer: default "uniform" (RandomUniform(-0.05, 0.05)).
        embeddings_regularizer: a penalty on the table.
        mask_zero: index 0 is padding: the layer emits a timestep mask that recurrent layers
            use to skip those steps (so index 0 cannot be a real token).
        weights: an optional initial table, shape `(input_dim, output_dim)`.

    Input `(batch, ...)` of whole numbers (any numeric dtype); output `(batch, ..., output_dim)`.
    An index out of range raises a ValueError naming the layer.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.Embedding(10, 3)(np.array([[1, 2, 0]])).shape
    (1, 3, 3)
    """

    _native_activity = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        warn_deprecated("Embedding", kwargs, "input_length")
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Embedding: expected {arg} to be a positive int, got {arg}={value!r}")
        for arg, value in (("embeddings_constraint", embeddings_constraint), ("lora_rank", lora_rank)):
            if value is not None:
                raise NotImplementedError(f"Embedding: {arg} is not supported yet")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = weights

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        self.built = True
        if self._initial_weights is not None:
            weights = self._initial_weights
            self._initial_weights = None
            self.set_weights(weights if isinstance(weights, (list, tuple)) else [weights])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def _make_engine_layer(self):
        config = {"embeddings_regularizer": regularizers.spec(self.embeddings_regularizer),
                  "activity_regularizer": regularizers.spec(self.activity_regularizer)}
        return _core.Layer.embedding(self.name, self.embeddings, self.mask_zero, config)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": None,
            "mask_zero": self.mask_zero,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        config.pop("embeddings_constraint", None)
        return cls(**config)

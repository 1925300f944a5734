"""The base `Layer`: name, weights, build-on-first-use, config round trip, Keras weight order.
Subclasses declare weights in `build` and say how the engine runs them in `_engine_layer`."""

import numpy as np

from ferronet import _budget, _core, _random, regularizers
from ferronet._naming import to_snake_case, unique_name


class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training. Default True.
        name: a unique name; default the snake_case class name with a counter.
        dtype: only "float32" (or None) is supported.
        activity_regularizer: a penalty on the layer's output, divided by the batch size.
    """

    _native_activity = False

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        kwargs.pop("autocast", None)
        # Any layer takes an activity regularizer (Keras's base Layer does); layers that apply it
        # themselves (Dense, convolutions) set `_native_activity` and handle it in the engine.
        self.activity_regularizer = regularizers.get(kwargs.pop("activity_regularizer", None))
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        if dtype not in (None, "float32"):
            raise ValueError(f"{type(self).__name__}: expected dtype float32, got dtype={dtype!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = trainable
        self.built = False
        self._weights = []  # [(name, Tensor, trainable)]
        self._engine = None
        if input_dim is not None:
            input_shape = (input_dim,)
        self._legacy_input_shape = tuple(input_shape) if input_shape is not None else None

    # ---- weights -------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer, trainable=True):
        """Create a weight from an initializer; returns its `Tensor`."""
        _budget.charge(self.name, name, shape)  # a model built from a file: refuse absurd sizes unallocated
        values = np.asarray(initializer(tuple(shape)), dtype=np.float32).reshape(shape)
        tensor = _core.Tensor(np.ascontiguousarray(values), requires_grad=trainable and self._trainable)
        self._weights.append((name, tensor, trainable))
        return tensor

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for _, tensor, trainable in self._weights:
            tensor.requires_grad = trainable and self._trainable
        if self._engine is not None:
            self._engine.set_trainable(self._trainable)

    @property
    def weights(self):
        """Trainable weights first, then non-trainable, as Keras orders them."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        return [t for _, t, tr in self._weights if tr and self._trainable]

    @property
    def non_trainable_weights(self):
        return [t for _, t, tr in self._weights if not (tr and self._trainable)]

    def _ordered_weights(self):
        """Keras's `get_weights()` order: each weight in creation order, trainable ones first."""
        return [t for _, t, tr in self._weights if tr] + [t for _, t, tr in self._weights if not tr]

    def get_weights(self):
        return [_core.to_numpy(t) for t in self._ordered_weights()]

    def set_weights(self, weights):
        own = self._ordered_weights()
        if len(weights) != len(own):
            raise ValueError(f"{self.name}: expected {len(own)} weight arrays, got {len(weights)}")
        for tensor, value in zip(own, weights):
            _core.assign(tensor, value)

    def count_params(self):
        return int(sum(t.size for _, t, _ in self._weights))

    # ---- building and running ---------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _ensure_built(self, input_shape):
        if not self.built:
            self.build(tuple(input_shape))
            self.built = True

    def _engine_layer(self):
        """The engine's runnable form of this layer (built once, shares the weight tensors)."""
        if self._engine is None:
            engine = self._make_engine_layer()
            if self.activity_regularizer is not None and not self._native_activity:
                penalty = _core.Layer.activity_regularization(f"{self.name}/activity", regularizers.spec(self.activity_regularizer))
                engine = _core.Layer.sequence(self.name, [engine, penalty])
            engine.set_trainable(self._trainable)
            self._engine = engine
        return self._engine

    def _make_engine_layer(self):
        raise NotImplementedError(f"{type(self).__name__} has no engine implementation")

    def __call__(self, inputs, training=False):
        x = inputs if isinstance(inputs, _core.Tensor) else _core.Tensor(np.asarray(inputs, dtype=np.float32))
        self._ensure_built((None,) + tuple(x.shape[1:]))
        # A fresh seed per training call, as Sequential.__call__ does: unseeded noise layers
        # then draw new masks each call (seeded ones use their own generator).
        seed = _random.next_seed() if training else 0
        return self._engine_layer()(x, training=bool(training), seed=seed)

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32"}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

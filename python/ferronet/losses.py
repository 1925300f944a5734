"""Losses with Keras 3 names, defaults and the `sum_over_batch_size` reduction.

The functions return per-sample losses (the mean over the last axis); the classes reduce them.

Example:
>>> import ferronet as fn
>>> round(fn.losses.MeanSquaredError()([[0.0, 1.0]], [[0.0, 0.0]]).item(), 4)
0.5
"""

import numpy as np

from ferronet import _core

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def mean_squared_error(y_true, y_pred):
    return _core.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return _core.mean_absolute_error(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    return _core.huber(y_true, y_pred, delta)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return _core.binary_crossentropy(y_true, y_pred, from_logits, label_smoothing)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return _core.categorical_crossentropy(y_true, y_pred, from_logits, label_smoothing)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    if ignore_class is not None:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class is not supported yet")
    return _core.sparse_categorical_crossentropy(y_true, y_pred, from_logits)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = binary_crossentropy


class Loss:
    """Base of the loss classes: per-sample losses reduced over the batch."""

    _kind = None
    _fn = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: expected reduction in {_REDUCTIONS}, got reduction={reduction!r}")
        self.name = name or self._kind
        self.reduction = reduction

    def _options(self):
        return {}

    def _engine_spec(self):
        if self.reduction != "sum_over_batch_size":
            raise NotImplementedError(f"{type(self).__name__}: training supports reduction='sum_over_batch_size' only, got {self.reduction!r}")
        return {"kind": self._kind, **self._options()}

    def call(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred, **self._options())

    def __call__(self, y_true, y_pred, sample_weight=None):
        per_sample = self.call(y_true, y_pred)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float32)
            w = w.reshape(w.shape + (1,) * (per_sample.ndim - w.ndim))
            per_sample = per_sample * w
        if self.reduction in ("none", None):
            return per_sample
        total = per_sample.sum()
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            return total / float(np.sum(sample_weight))
        return total / max(per_sample.size, 1)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, **self._options()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(Loss):
    _kind = "mean_squared_error"
    _fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    _kind = "mean_absolute_error"
    _fn = staticmethod(mean_absolute_error)


class Huber(Loss):
    _kind = "huber"
    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction)
        self.delta = delta

    def _options(self):
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    _kind = "binary_crossentropy"
    _fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(name, reduction)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def _options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    _kind = "categorical_crossentropy"
    _fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)


class SparseCategoricalCrossentropy(Loss):
    _kind = "sparse_categorical_crossentropy"
    _fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name, reduction)
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class is not supported yet")
        self.from_logits = from_logits

    def _options(self):
        return {"from_logits": self.from_logits}


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
for _cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy):
    _BY_NAME[_cls.__name__] = _cls
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
              binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def get(identifier):
    """A `Loss` instance from a name, a class, a function of this module or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"losses: unknown loss {identifier!r}; known: {sorted(k for k in _BY_NAME if not k[0].isupper())}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise ValueError(f"losses: could not interpret loss {identifier!r}; the Rust training loop runs the built-in losses ({sorted(k for k in _BY_NAME if k.islower())})")

"""Metrics with Keras 3 names. During `fit`/`evaluate` the engine computes them; standalone,
`update_state`/`result`/`reset_state` compute the same values with NumPy.

Example:
>>> import ferronet as fn
>>> m = fn.metrics.SparseCategoricalAccuracy(); m.update_state([1, 0], [[0.2, 0.8], [0.3, 0.7]])
>>> float(m.result())
0.5
"""

import numpy as np


class Metric:
    """A running mean of a per-sample value."""

    _kind = None

    def __init__(self, name=None, dtype=None):
        self.name = name or self._kind
        self.reset_state()

    def reset_state(self):
        self._total, self._count = 0.0, 0.0

    def _values(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._values(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)), np.float64).reshape(-1)
        w = np.ones_like(values) if sample_weight is None else np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1), values.shape)
        self._total += float(np.sum(values * w))
        self._count += float(np.sum(w))

    def result(self):
        return np.float32(self._total / self._count if self._count else 0.0)

    def _options(self):
        return {}

    def _engine_spec(self):
        return (self._kind, self._options())

    def get_config(self):
        return {"name": self.name, **self._options()}


def _rows(y):
    return y.reshape(-1, y.shape[-1]) if y.ndim else y.reshape(1, 1)


class BinaryAccuracy(Metric):
    _kind = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def _values(self, y_true, y_pred):
        return np.mean((y_pred > self.threshold) == (y_true == 1), axis=-1)

    def _options(self):
        return {"threshold": self.threshold}


class CategoricalAccuracy(Metric):
    _kind = "categorical_accuracy"

    def _values(self, y_true, y_pred):
        return np.argmax(_rows(y_pred), -1) == np.argmax(_rows(y_true), -1)


class SparseCategoricalAccuracy(Metric):
    _kind = "sparse_categorical_accuracy"

    def _values(self, y_true, y_pred):
        return np.argmax(_rows(y_pred), -1) == y_true.reshape(-1)


class TopKCategoricalAccuracy(Metric):
    _kind = "top_k_categorical_accuracy"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = k
        super().__init__(name)

    def _values(self, y_true, y_pred):
        p = _rows(y_pred)
        target = p[np.arange(len(p)), np.argmax(_rows(y_true), -1)]
        return np.sum(p > target[:, None], axis=-1) < self.k

    def _options(self):
        return {"k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    _kind = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(k, name)

    def _values(self, y_true, y_pred):
        p = _rows(y_pred)
        target = p[np.arange(len(p)), y_true.reshape(-1).astype(int)]
        return np.sum(p > target[:, None], axis=-1) < self.k


class MeanSquaredError(Metric):
    _kind = "mean_squared_error"

    def _values(self, y_true, y_pred):
        return np.mean((y_pred - y_true) ** 2, axis=-1)


class MeanAbsoluteError(Metric):
    _kind = "mean_absolute_error"

    def _values(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true), axis=-1)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
for _cls in set(_BY_NAME.values()):
    _BY_NAME[_cls.__name__] = _cls


def resolve(identifier, y_true_shape, y_pred_shape, loss_is_sparse=False):
    """The metric for a compile entry; "accuracy"/"acc" is chosen from shapes as Keras does."""
    if isinstance(identifier, Metric):
        return identifier.name, identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        m = identifier()
        return m.name, m
    if not isinstance(identifier, str):
        raise ValueError(f"metrics: could not interpret metric {identifier!r}")
    if identifier in ("accuracy", "acc"):
        if y_pred_shape[-1] == 1:
            return identifier, BinaryAccuracy()
        if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
            return identifier, SparseCategoricalAccuracy()
        return identifier, CategoricalAccuracy()
    if identifier not in _BY_NAME:
        raise ValueError(f"metrics: unknown metric {identifier!r}; known: accuracy, acc, {', '.join(sorted(k for k in _BY_NAME if k.islower()))}")
    return identifier, _BY_NAME[identifier]()


def get(identifier):
    """A metric instance from a name (not "accuracy", which needs shapes), class or instance."""
    return resolve(identifier, (1, 2), (1, 2))[1] if identifier not in ("accuracy", "acc") else SparseCategoricalAccuracy()

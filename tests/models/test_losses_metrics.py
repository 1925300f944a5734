"""Loss classes and metrics against float64 NumPy references and Keras's measured values."""

import numpy as np
import pytest

import ferronet as fn

EPS = 1e-7
YT = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
YP = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)


@pytest.mark.parametrize("loss, y_true, y_pred, expected", [
    (fn.losses.CategoricalCrossentropy(), YT, YP, 0.3669845),
    (fn.losses.SparseCategoricalCrossentropy(), np.array([1, 0]), YP, 0.3669845),
    (fn.losses.BinaryCrossentropy(), YT, YP, 0.3669845),
    (fn.losses.BinaryCrossentropy(from_logits=True), YT, YP, 0.6299357),
    (fn.losses.Huber(), YT, 3 * YP, 0.525),
    (fn.losses.MeanSquaredError(), YT, YP, 0.1),
    (fn.losses.MeanAbsoluteError(), YT, YP, 0.3),
])
def test_losses_match_keras_values(loss, y_true, y_pred, expected):
    assert loss(y_true, y_pred).item() == pytest.approx(expected, rel=1e-5)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_crossentropies_against_float64_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 5))
    labels = rng.integers(0, 5, 16)
    onehot = np.eye(5)[labels]
    probs = _softmax(logits)
    ref = -np.log(np.clip(probs[np.arange(16), labels], EPS, 1 - EPS)).mean()
    assert fn.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits.astype(np.float32)).item() == pytest.approx(ref, rel=1e-5)
    assert fn.losses.SparseCategoricalCrossentropy()(labels, probs.astype(np.float32)).item() == pytest.approx(ref, rel=1e-5)
    assert fn.losses.CategoricalCrossentropy(from_logits=True)(onehot, logits.astype(np.float32)).item() == pytest.approx(ref, rel=1e-5)
    ls = 0.1
    smooth = onehot * (1 - ls) + ls / 5
    ref_ls = -(smooth * np.log(probs)).sum(-1).mean()
    got = fn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=ls)(onehot, logits.astype(np.float32)).item()
    assert got == pytest.approx(ref_ls, rel=1e-5)
    # float labels that are whole numbers are accepted, as Keras accepts them
    assert fn.losses.SparseCategoricalCrossentropy()(labels.astype(np.float32), probs.astype(np.float32)).item() == pytest.approx(ref, rel=1e-5)


def test_sample_weight_and_reductions():
    y_true = np.array([[1.0], [2.0], [3.0]], np.float32)
    y_pred = np.zeros((3, 1), np.float32)
    w = np.array([1.0, 0.0, 2.0], np.float32)
    per_sample = np.array([1.0, 4.0, 9.0])
    assert fn.losses.MeanSquaredError()(y_true, y_pred, sample_weight=w).item() == pytest.approx((per_sample * w).sum() / 3)
    assert fn.losses.MeanSquaredError(reduction="sum")(y_true, y_pred).item() == pytest.approx(14.0)
    np.testing.assert_allclose(fn.losses.MeanSquaredError(reduction="none")(y_true, y_pred).numpy(), per_sample)


@pytest.mark.parametrize("metric, y_true, y_pred, expected", [
    (fn.metrics.BinaryAccuracy(), [[1], [0], [1], [0]], [[0.9], [0.6], [0.4], [0.1]], 0.5),
    (fn.metrics.CategoricalAccuracy(), [[0, 1], [1, 0], [1, 0]], [[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]], 2 / 3),
    (fn.metrics.SparseCategoricalAccuracy(), [1, 0, 0], [[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]], 2 / 3),
    (fn.metrics.TopKCategoricalAccuracy(k=2), [[0, 0, 1], [1, 0, 0]], [[0.1, 0.5, 0.4], [0.1, 0.5, 0.4]], 0.5),
    (fn.metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1], [[0.1, 0.5, 0.4], [0.1, 0.5, 0.4]], 0.5),
    (fn.metrics.MeanSquaredError(), [[0.0, 1.0]], [[1.0, 1.0]], 0.5),
    (fn.metrics.MeanAbsoluteError(), [[0.0, 1.0]], [[2.0, 1.0]], 1.0),
])
def test_metrics_standalone(metric, y_true, y_pred, expected):
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(expected)


@pytest.mark.parametrize("metric_name, loss, y, expected_kind", [
    ("accuracy", "sparse_categorical_crossentropy", np.array([0, 1, 2, 1]), "sparse_categorical_accuracy"),
    ("accuracy", "categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], "categorical_accuracy"),
    ("accuracy", "binary_crossentropy", np.array([[0.0], [1.0], [1.0], [0.0]]), "binary_accuracy"),
])
def test_accuracy_resolves_from_shapes_and_matches_numpy(metric_name, loss, y, expected_kind):
    fn.utils.set_random_seed(1)
    units = 1 if loss == "binary_crossentropy" else 3
    model = fn.Sequential([fn.Input((4,)), fn.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax")])
    sparse = expected_kind == "sparse_categorical_accuracy"
    model.compile("sgd", loss, metrics=[metric_name] + ([] if sparse else ["mae"]))
    x = np.random.default_rng(0).random((4, 4)).astype(np.float32)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert model._resolved_metrics[0][1]._kind == expected_kind
    pred = model.predict(x, verbose=0)
    if expected_kind == "binary_accuracy":
        acc = np.mean((pred > 0.5) == (y == 1))
    elif expected_kind == "sparse_categorical_accuracy":
        acc = np.mean(pred.argmax(-1) == y)
    else:
        acc = np.mean(pred.argmax(-1) == y.argmax(-1))
    assert logs["accuracy"] == pytest.approx(acc)
    if not sparse:
        assert logs["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)

"""Loss ops (Keras 3 semantics, per-sample losses = mean over the last axis): mse, mae, huber,
binary and categorical crossentropy from probabilities and logits with label smoothing, sparse
categorical crossentropy with int and float labels. Gradients w.r.t. y_pred and y_true, and the
Keras reference values."""

import numpy as np
import pytest
from helpers import BALANCED, check_op, np_log_softmax, rng, sample

import ferronet as fn

EPS = 1e-7  # keras.backend.epsilon()
# The clip bounds as float32 computes them (Keras clips in the model's dtype): 1 - 1e-7 rounds.
CLIP_LO, CLIP_HI = float(np.float32(EPS)), float(np.float32(1.0) - np.float32(EPS))
SHAPES = [(4, 5), (2, 3, 4), (7,), (1, 1)]

# Keras reference: y_true = [[0, 1], [1, 0]], y_pred = [[.2, .8], [.6, .4]].
Y_TRUE = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
Y_PRED = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)


def np_mse(t, p):
    return np.mean((t - p) ** 2, axis=-1)


def np_mae(t, p):
    return np.mean(np.abs(t - p), axis=-1)


def np_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2), axis=-1)


def np_bce(t, p, from_logits=False, label_smoothing=0.0):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return np.mean(np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p))), axis=-1)
    p = np.clip(p, CLIP_LO, CLIP_HI)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)


def np_cce(t, p, from_logits=False, label_smoothing=0.0):
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
    if from_logits:
        return -np.sum(t * np_log_softmax(p), axis=-1)
    p = np.clip(p / p.sum(axis=-1, keepdims=True), CLIP_LO, CLIP_HI)
    return -np.sum(t * np.log(p), axis=-1)


def probs(shape, seed):
    return sample(shape, 0.05, 0.95, seed=seed)


def one_hot_rows(shape, seed):
    labels = rng(seed).integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1], dtype=np.float32)[labels], labels


@pytest.mark.parametrize("shape", SHAPES)
def test_mean_squared_error(shape):
    check_op([shape, shape], np_mse, fn.ops.mean_squared_error, tol=BALANCED)
    check_op([(5, 3), (5, 3)], np_mse, fn.ops.mean_squared_error, tol=BALANCED, transposed=[1])


@pytest.mark.parametrize("shape", SHAPES)
def test_mean_absolute_error(shape):
    # Different seeds for y_true and y_pred: no error exactly at the |e| kink.
    check_op([shape, shape], np_mae, fn.ops.mean_absolute_error, tol=BALANCED)


@pytest.mark.parametrize("delta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_huber(shape, delta):
    check_op([shape, shape], lambda t, p: np_huber(t, p, delta), lambda t, p: fn.ops.huber(t, p, delta=delta), tol=BALANCED, low=-3, high=3)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_binary_crossentropy(shape, label_smoothing):
    ref = lambda t, p: np_bce(t, p, label_smoothing=label_smoothing)  # noqa: E731
    call = lambda t, p: fn.ops.binary_crossentropy(t, p, label_smoothing=label_smoothing)  # noqa: E731
    # Soft targets in [0, 1], probabilities inside the clip range.
    check_op([shape, shape], ref, call, vals=[sample(shape, 0, 1, seed=1), probs(shape, 2)], tol=BALANCED)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_binary_crossentropy_from_logits(shape, label_smoothing):
    ref = lambda t, p: np_bce(t, p, True, label_smoothing)  # noqa: E731
    call = lambda t, p: fn.ops.binary_crossentropy(t, p, from_logits=True, label_smoothing=label_smoothing)  # noqa: E731
    check_op([shape, shape], ref, call, vals=[sample(shape, 0, 1, seed=1), sample(shape, -6, 6, seed=2)], tol=BALANCED)


def test_binary_crossentropy_clips_probabilities():
    out = fn.ops.binary_crossentropy([[1.0, 0.0]], [[0.0, 1.0]]).numpy()
    np.testing.assert_allclose(out, [np.mean([-np.log(CLIP_LO), -np.log(1 - CLIP_HI)])], rtol=1e-4)
    p = fn.tensor([[0.0, 0.5]], requires_grad=True)
    fn.ops.binary_crossentropy([[1.0, 1.0]], p).sum().backward()
    assert p.grad.numpy()[0, 0] == 0.0  # clipped: no gradient
    assert np.isfinite(p.grad.numpy()).all()


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_crossentropy(shape, label_smoothing):
    ref = lambda t, p: np_cce(t, p, label_smoothing=label_smoothing)  # noqa: E731
    call = lambda t, p: fn.ops.categorical_crossentropy(t, p, label_smoothing=label_smoothing)  # noqa: E731
    # Unnormalised probabilities: the op renormalises each row first, as Keras does.
    check_op([shape, shape], ref, call, vals=[sample(shape, 0, 1, seed=1), probs(shape, 2)], tol=BALANCED)
    one_hot, _ = one_hot_rows(shape, 3)
    check_op([shape, shape], ref, call, vals=[one_hot, probs(shape, 4)], tol=BALANCED)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_crossentropy_from_logits(shape, label_smoothing):
    ref = lambda t, p: np_cce(t, p, True, label_smoothing)  # noqa: E731
    call = lambda t, p: fn.ops.categorical_crossentropy(t, p, from_logits=True, label_smoothing=label_smoothing)  # noqa: E731
    check_op([shape, shape], ref, call, vals=[sample(shape, 0, 1, seed=1), sample(shape, -4, 4, seed=2)], tol=BALANCED)
    check_op([(5, 3), (5, 3)], ref, call, vals=[one_hot_rows((5, 3), 3)[0], sample((5, 3), seed=4)], transposed=[1], tol=BALANCED)


def test_categorical_crossentropy_from_logits_is_stable():
    out = fn.ops.categorical_crossentropy([[0.0, 1.0]], [[1000.0, -1000.0]], from_logits=True).numpy()
    np.testing.assert_allclose(out, [2000.0], rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (7,)])
def test_sparse_categorical_crossentropy(shape, from_logits):
    one_hot, labels = one_hot_rows(shape, 5)
    p = sample(shape, -4, 4, seed=6) if from_logits else probs(shape, 6)
    ref = lambda y: np_cce(one_hot.astype(np.float64), y, from_logits)  # noqa: E731
    for given in (labels, labels.astype(np.int32), labels.astype(np.float32), labels.astype(np.float64), labels.tolist()):
        call = lambda y: fn.ops.sparse_categorical_crossentropy(given, y, from_logits=from_logits)  # noqa: E731
        check_op([shape], ref, call, vals=[p], tol=BALANCED)


def test_sparse_categorical_crossentropy_labels_with_a_trailing_axis():
    # Keras accepts labels of shape (batch, 1).
    out = fn.ops.sparse_categorical_crossentropy([[1], [0]], Y_PRED).numpy()
    np.testing.assert_allclose(out, np_cce(Y_TRUE.astype(np.float64), Y_PRED.astype(np.float64)), rtol=1e-6)


def test_empty_last_axis_gives_nan_not_a_crash():
    with np.errstate(all="ignore"):
        assert np.isnan(fn.ops.mean_squared_error(np.zeros((3, 0)), np.zeros((3, 0))).numpy()).all()
    assert fn.ops.categorical_crossentropy(np.zeros((3, 0)), np.zeros((3, 0))).shape == (3,)


# ---- Keras reference values (means over the batch of the per-sample losses) -------------------


def keras_mean(loss):
    return float(np.mean(loss.numpy()))


def test_keras_reference_values():
    assert keras_mean(fn.ops.categorical_crossentropy(Y_TRUE, Y_PRED)) == pytest.approx(0.3669845, abs=1e-6)
    assert keras_mean(fn.ops.sparse_categorical_crossentropy([1, 0], Y_PRED)) == pytest.approx(0.3669845, abs=1e-6)
    assert keras_mean(fn.ops.sparse_categorical_crossentropy([1.0, 0.0], Y_PRED)) == pytest.approx(0.3669845, abs=1e-6)
    assert keras_mean(fn.ops.binary_crossentropy(Y_TRUE, Y_PRED)) == pytest.approx(0.3669845, abs=1e-6)
    assert keras_mean(fn.ops.binary_crossentropy(Y_TRUE, Y_PRED, from_logits=True)) == pytest.approx(0.6299357, abs=1e-6)
    assert keras_mean(fn.ops.huber(Y_TRUE, 3 * Y_PRED)) == pytest.approx(0.525, abs=1e-6)
    assert keras_mean(fn.ops.mean_squared_error(Y_TRUE, Y_PRED)) == pytest.approx(0.1, abs=1e-6)
    assert keras_mean(fn.ops.mean_absolute_error(Y_TRUE, Y_PRED)) == pytest.approx(0.3, abs=1e-6)


def test_losses_return_one_value_per_sample():
    for op in (fn.ops.mean_squared_error, fn.ops.mean_absolute_error, fn.ops.huber, fn.ops.binary_crossentropy, fn.ops.categorical_crossentropy):
        assert op(Y_TRUE, Y_PRED).shape == (2,)
    assert fn.ops.sparse_categorical_crossentropy([1, 0], Y_PRED).shape == (2,)

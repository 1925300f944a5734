"""Every user mistake in the Sequential workflow is a clear Python exception, never a crash."""

import numpy as np
import pytest

import ferronet as fn


def model(compile_it=True):
    m = fn.Sequential([fn.Input((4,)), fn.layers.Dense(3, activation="softmax")])
    if compile_it:
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.zeros((8, 4), np.float32)
Y = np.zeros(8, np.int64)


def check(exc_type, match, fn_, *args, **kwargs):
    with pytest.raises(exc_type, match=match) as info:
        fn_(*args, **kwargs)
    assert isinstance(info.value, Exception)  # a PanicException is a BaseException only


def test_fit_before_compile():
    check(ValueError, "You must call `compile\\(\\)` before using the model", model(False).fit, X, Y)


def test_x_y_length_mismatch():
    check(ValueError, r"same number of samples, got x \(8, 4\) and y \(7,\)", model().fit, X, Y[:7])


def test_wrong_feature_count():
    check(ValueError, r"dense.*expected input of shape \(None, 4\), got \(8, 5\)", model().fit, np.zeros((8, 5), np.float32), Y)
    check(ValueError, r"expected input of shape \(None, 4\), got \(2, 3\)", model().predict, np.zeros((2, 3), np.float32))


def test_wrong_label_shape_for_loss():
    check(ValueError, r"sparse_categorical_crossentropy expects integer labels of shape \(None,\), got y \(8, 3\)", model().fit, X, np.zeros((8, 3)))
    m = fn.Sequential([fn.Input((4,)), fn.layers.Dense(3, activation="softmax")])
    m.compile("adam", "categorical_crossentropy")
    check(ValueError, r"expects y of shape \(None, 3\).*got y \(8,\).*to_categorical", m.fit, X, Y)


def test_labels_out_of_range_or_fractional():
    check(ValueError, r"integer labels in \[0, 3\)", model().fit, X, np.full(8, 3))
    check(ValueError, r"integer labels in \[0, 3\)", model().fit, X, np.full(8, 0.5))


def test_empty_arrays():
    check(ValueError, "at least one sample", model().fit, np.zeros((0, 4), np.float32), np.zeros(0))
    check(ValueError, "at least one sample", model().predict, np.zeros((0, 4), np.float32))


def test_nan_in_x():
    x = X.copy()
    x[3, 1] = np.nan
    check(ValueError, r"x contains NaN or infinite values \(first in sample 3\)", model().fit, x, Y)


def test_unknown_optimizer_or_loss_name():
    check(ValueError, "unknown optimizer 'adamx'", model(False).compile, "adamx", "mse")
    check(ValueError, "unknown loss 'mse2'", model(False).compile, "adam", "mse2")
    check(ValueError, "unknown metric 'acuracy'", model(False).compile, "adam", "mse", metrics=["acuracy"])


def test_wrong_number_of_weights():
    check(ValueError, "set_weights expected 2 arrays, got 1", model().set_weights, [np.zeros((4, 3))])
    check(ValueError, r"expected an array of shape \(4, 3\), got \(3, 4\)", model().set_weights, [np.zeros((3, 4)), np.zeros(3)])


def test_bad_arguments():
    check(ValueError, "batch_size to be a positive int", model().fit, X, Y, batch_size=0)
    check(ValueError, "validation_split=0.99 leaves 0 training", model().fit, X, Y, validation_split=0.99)
    check(ValueError, "class_weight` and `sample_weight` cannot be used together", model().fit, X, Y, class_weight={0: 1}, sample_weight=np.ones(8))
    check(ValueError, "Dense: expected units to be a positive int, got units=0", fn.layers.Dense, 0)
    check(ValueError, "unknown activation 'relux'", fn.layers.Dense, 3, activation="relux")
    check(ValueError, "Only instances of `keras.Layer`", fn.Sequential, [object()])
    check(TypeError, "numeric x", model().fit, np.array([["a"] * 4] * 8), Y)
    check(ValueError, "could not interpret loss", model(False).compile, "adam", lambda a, b: a)


def test_dense_layer_error_names_layer_and_shapes():
    layer = fn.layers.Dense(2, name="dense_9")
    layer(np.zeros((1, 64), np.float32))
    check(ValueError, r"dense_9: expected input with last axis 64, got shape \(32, 63\)", layer, np.zeros((32, 63), np.float32))

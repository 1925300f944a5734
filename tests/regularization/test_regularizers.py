"""Weight and activity penalties against Keras 3 (keras-api.md section 2, keras/src/regularizers):
the values of L1, L2 and L1L2, the string names, the penalty in `evaluate`, in the History of
`fit` and in the gradient, the activity penalty's division by the batch size, and bad arguments."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import regularizers

from ..helpers import check_raises

KERNEL = np.array([[1.0], [1.0], [2.0]], np.float32)  # sum(w^2) = 6


def dense_model(kernel, optimizer=None, **dense_kwargs):
    dense_kwargs.setdefault("use_bias", False)
    layer = fn.layers.Dense(kernel.shape[1], **dense_kwargs)
    model = fn.Sequential([fn.Input((kernel.shape[0],)), layer])
    weights = [kernel] + ([np.zeros(kernel.shape[1], np.float32)] if dense_kwargs["use_bias"] else [])
    model.set_weights(weights)
    model.compile(optimizer or fn.optimizers.SGD(0.0), "mse")
    return model


# ---- the penalties themselves --------------------------------------------------------------------

def test_regularizer_values():
    w = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    w64 = w.astype(np.float64)
    assert regularizers.L1(0.1)(w) == pytest.approx(0.1 * np.abs(w64).sum(), rel=1e-12)
    assert regularizers.L2(0.1)(w) == pytest.approx(0.1 * np.square(w64).sum(), rel=1e-12)  # no 1/2
    assert regularizers.L1L2(l1=0.1, l2=0.2)(w) == pytest.approx(0.1 * np.abs(w64).sum() + 0.2 * np.square(w64).sum(), rel=1e-12)
    assert regularizers.L1L2(l1=0.1)(w) == regularizers.L1(0.1)(w)
    assert regularizers.L1L2(l2=0.1)(w) == regularizers.L2(0.1)(w)
    assert regularizers.L1L2()(w) == 0.0
    assert regularizers.L2(2.0)(np.ones((5, 5))) == 50.0  # Keras's docstring example
    assert regularizers.L1(0.1)(-np.ones((4, 4))) == regularizers.L1(0.1)(np.ones((4, 4)))
    assert regularizers.L2(0.5)(fn.tensor([[1.0, 2.0]])) == 2.5  # on a Tensor too


def test_regularizer_defaults_and_strings():
    assert (regularizers.L1().l1, regularizers.L1().l2) == (0.01, 0.0)
    assert (regularizers.L2().l1, regularizers.L2().l2) == (0.0, 0.01)
    assert (regularizers.L1L2().l1, regularizers.L1L2().l2) == (0.0, 0.0)
    for name, cls, l1, l2 in [("l1", regularizers.L1, 0.01, 0.0), ("l2", regularizers.L2, 0.0, 0.01),
                              ("l1_l2", regularizers.L1L2, 0.0, 0.0), ("l1l2", regularizers.L1L2, 0.0, 0.0),
                              ("L2", regularizers.L2, 0.0, 0.01)]:
        reg = regularizers.get(name)
        assert type(reg) is cls and (reg.l1, reg.l2) == (l1, l2), name
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    # None means the default factor, as in Keras
    assert regularizers.L1(None).l1 == 0.01 and regularizers.L2(None).l2 == 0.01
    assert (regularizers.L1L2(None, None).l1, regularizers.L1L2(None, None).l2) == (0.0, 0.0)


def test_regularizer_config_round_trip():
    for reg in (regularizers.L1(0.1), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.2)):
        config = regularizers.serialize(reg)
        assert config["class_name"] == type(reg).__name__
        again = regularizers.get(config)
        assert type(again) is type(reg) and again.get_config() == reg.get_config()
    assert regularizers.L2(0.2).get_config() == {"l2": 0.2}
    assert regularizers.L1L2(0.1, 0.2).get_config() == {"l1": 0.1, "l2": 0.2}
    layer = fn.layers.Dense(2, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    clone = fn.layers.Dense.from_config(layer.get_config())
    assert clone.kernel_regularizer.get_config() == {"l2": 0.01}
    assert clone.bias_regularizer.get_config() == {"l1": 0.5}
    assert clone.activity_regularizer is None


@pytest.mark.parametrize("name", ["l3", "typo", "L2_", ""])
def test_unknown_regularizer_name(name):
    check_raises(ValueError, lambda: regularizers.get(name), "regularizer", repr(name))
    check_raises(ValueError, lambda: fn.layers.Dense(2, kernel_regularizer=name), repr(name))


@pytest.mark.parametrize("make, fragment", [
    (lambda: regularizers.L2(-0.1), "l2=-0.1"),
    (lambda: regularizers.L1(-1), "l1=-1"),
    (lambda: regularizers.L1L2(l1=0.1, l2=-0.5), "l2=-0.5"),
    (lambda: regularizers.L1L2(l1=-0.001), "l1=-0.001"),
    (lambda: regularizers.L2(float("nan")), "l2=nan"),
    (lambda: regularizers.L1(float("inf")), "l1=inf"),
    (lambda: regularizers.L2("0.1"), "l2='0.1'"),
    (lambda: regularizers.L1([0.1]), "l1=[0.1]"),
    (lambda: regularizers.get({"class_name": "L2", "config": {"l2": -2.0}}), "l2=-2.0"),
])
def test_bad_regularizer_factor(make, fragment):
    check_raises(ValueError, make, fragment)


def test_regularizer_factor_accepts_ints_and_numpy_scalars():
    assert regularizers.L2(1).l2 == 1.0 and isinstance(regularizers.L2(1).l2, float)
    assert regularizers.L1(np.float32(0.5)).l1 == 0.5
    assert regularizers.L1L2(np.int64(2), 0).l1 == 2.0


# ---- penalties in the loss -----------------------------------------------------------------------

def test_kernel_l2_penalty_joins_the_evaluate_loss():
    # MSE 9.0 (zero inputs, targets 3) + L2 penalty 0.5 * 6 = 3.0 -> 12.0, as Keras reports.
    model = dense_model(KERNEL, kernel_regularizer=regularizers.L2(0.5))
    x, y = np.zeros((4, 3), np.float32), np.full((4, 1), 3.0, np.float32)
    assert model.evaluate(x, y, verbose=0) == 12.0
    assert model.test_on_batch(x, y) == 12.0
    assert dense_model(KERNEL).evaluate(x, y, verbose=0) == 9.0
    assert model.predict(x, verbose=0).tolist() == [[0.0]] * 4  # predictions carry no penalty


def test_kernel_penalty_on_random_data_matches_numpy():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(6, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    x, y = rng.normal(size=(20, 6)).astype(np.float32), rng.normal(size=(20, 3)).astype(np.float32)
    model = dense_model(kernel, use_bias=True, kernel_regularizer=regularizers.L1L2(0.05, 0.2), bias_regularizer=regularizers.L1(0.3))
    model.set_weights([kernel, bias])
    k64, b64 = kernel.astype(np.float64), bias.astype(np.float64)
    data = np.mean((x.astype(np.float64) @ k64 + b64 - y) ** 2)
    penalty = 0.05 * np.abs(k64).sum() + 0.2 * np.square(k64).sum() + 0.3 * np.abs(b64).sum()
    assert model.evaluate(x, y, batch_size=20, verbose=0) == pytest.approx(data + penalty, rel=1e-5)
    # per batch, the penalty is added whole to each batch's loss, so the mean keeps it once
    assert model.evaluate(x, y, batch_size=5, verbose=0) == pytest.approx(data + penalty, rel=1e-5)


def test_training_loss_in_history_includes_the_penalty():
    model = dense_model(KERNEL, kernel_regularizer=regularizers.L2(0.5))
    x, y = np.zeros((8, 3), np.float32), np.full((8, 1), 3.0, np.float32)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y))
    assert history.history["loss"] == [12.0, 12.0]  # lr 0: the weights stay put
    assert history.history["val_loss"] == [12.0, 12.0]
    assert model.train_on_batch(x, y) == 12.0


def test_bias_regularizer():
    model = dense_model(np.zeros((2, 2), np.float32), use_bias=True, bias_regularizer=regularizers.L1(0.5))
    model.set_weights([np.zeros((2, 2), np.float32), np.array([1.0, -2.0], np.float32)])
    x = np.zeros((3, 2), np.float32)
    y = np.tile(np.array([1.0, -2.0], np.float32), (3, 1))  # predictions equal targets: data loss 0
    assert model.evaluate(x, y, verbose=0) == 1.5  # 0.5 * (|1| + |-2|)


def test_string_regularizer_uses_keras_defaults():
    model = dense_model(KERNEL, kernel_regularizer="l2")
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.06, rel=1e-6)  # 0.01 * 6
    model = dense_model(KERNEL, kernel_regularizer="l1")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.04, rel=1e-6)  # 0.01 * 4
    model = dense_model(KERNEL, kernel_regularizer="l1_l2")
    assert model.evaluate(x, y, verbose=0) == 0.0  # L1L2() is all zeros


def test_penalties_of_several_layers_add_up():
    model = fn.Sequential([fn.Input((3,)), fn.layers.Dense(2, use_bias=False, kernel_regularizer=regularizers.L2(0.1)),
                           fn.layers.Dense(1, use_bias=False, kernel_regularizer=regularizers.L1(0.2))])
    w1 = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], np.float32)
    w2 = np.array([[-1.5], [0.5]], np.float32)
    model.set_weights([w1, w2])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    x, y = np.zeros((2, 3), np.float32), np.zeros((2, 1), np.float32)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.1 * 16 + 0.2 * 2, rel=1e-6)


# ---- penalties in the gradient -------------------------------------------------------------------

KERNEL_2D = np.array([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]], np.float32)


@pytest.mark.parametrize("reg, step", [
    (regularizers.L2(0.5), lambda w, lr: w - lr * 2 * 0.5 * w),
    (regularizers.L2(0.01), lambda w, lr: w - lr * 2 * 0.01 * w),
    (regularizers.L1(0.3), lambda w, lr: w - lr * 0.3 * np.sign(w)),
    (regularizers.L1L2(0.3, 0.5), lambda w, lr: w - lr * (0.3 * np.sign(w) + 2 * 0.5 * w)),
], ids=["l2_0.5", "l2_0.01", "l1_0.3", "l1l2"])
def test_one_sgd_step_follows_the_penalty_gradient(reg, step):
    # Zero inputs and targets, no bias: the data gradient is exactly zero, the step is the penalty's.
    lr = 0.1
    model = dense_model(KERNEL_2D, fn.optimizers.SGD(lr), kernel_regularizer=reg)
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(reg(KERNEL_2D), rel=1e-6)  # the loss before the step
    expected = step(KERNEL_2D.astype(np.float64), lr)
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-6, atol=1e-7)


def test_bias_penalty_gradient():
    lr = 0.2
    model = dense_model(np.zeros((2, 2), np.float32), fn.optimizers.SGD(lr), use_bias=True, bias_regularizer=regularizers.L2(0.25))
    bias = np.array([1.0, -4.0], np.float32)
    model.set_weights([np.zeros((2, 2), np.float32), bias])
    x = np.zeros((3, 2), np.float32)
    model.train_on_batch(x, np.tile(bias, (3, 1)))  # predictions equal targets: only the penalty pulls
    np.testing.assert_allclose(model.get_weights()[1], bias - lr * 2 * 0.25 * bias, rtol=1e-6)
    np.testing.assert_array_equal(model.get_weights()[0], np.zeros((2, 2), np.float32))


def test_penalty_and_data_gradients_add():
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(4, 1)).astype(np.float32)
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    lr, l2 = 0.05, 0.3
    model = dense_model(kernel, fn.optimizers.SGD(lr), kernel_regularizer=regularizers.L2(l2))
    model.train_on_batch(x, y)
    k, x64 = kernel.astype(np.float64), x.astype(np.float64)
    grad = 2 * x64.T @ (x64 @ k - y) / len(x) + 2 * l2 * k
    np.testing.assert_allclose(model.get_weights()[0], k - lr * grad, rtol=1e-5, atol=1e-7)


def test_weight_decay_pulls_weights_to_zero_over_training():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = x @ rng.normal(size=(5, 1)).astype(np.float32)
    fn.utils.set_random_seed(0)
    plain = fn.Sequential([fn.Input((5,)), fn.layers.Dense(1)])
    fn.utils.set_random_seed(0)
    decayed = fn.Sequential([fn.Input((5,)), fn.layers.Dense(1, kernel_regularizer=regularizers.L2(1.0))])
    for m in (plain, decayed):
        m.compile(fn.optimizers.SGD(0.05), "mse")
        m.fit(x, y, batch_size=16, epochs=20, verbose=0, shuffle=False)
    assert np.abs(decayed.get_weights()[0]).sum() < 0.7 * np.abs(plain.get_weights()[0]).sum()


# ---- activity regularizer (divided by the batch size, as Keras) ---------------------------------------

def test_activity_regularizer_keras_docstring_example():
    # Dense(5, ones, kernel L1(0.01), activity L2(0.01)) on ones(5, 5) * 2: 0.25 + 2500 * 0.01 / 5 = 5.25.
    model = fn.Sequential([fn.Input((5,)), fn.layers.Dense(5, kernel_initializer="ones", kernel_regularizer=regularizers.L1(0.01),
                                                           activity_regularizer=regularizers.L2(0.01))])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    x = np.full((5, 5), 2.0, np.float32)
    y = np.full((5, 5), 10.0, np.float32)  # the outputs exactly: data loss 0
    assert model.evaluate(x, y, verbose=0) == pytest.approx(5.25, rel=1e-6)


@pytest.mark.parametrize("batch_size", [12, 4, 3])
def test_activity_penalty_is_divided_by_the_batch_size(batch_size):
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(3, 2)).astype(np.float32)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.normal(size=(12, 2)).astype(np.float32)
    model = dense_model(kernel, activity_regularizer=regularizers.L2(0.1))
    out = x.astype(np.float64) @ kernel.astype(np.float64)
    losses = []
    for start in range(0, 12, batch_size):
        o, t = out[start:start + batch_size], y[start:start + batch_size]
        losses.append(np.mean((o - t) ** 2) + 0.1 * np.square(o).sum() / len(o))
    assert model.evaluate(x, y, batch_size=batch_size, verbose=0) == pytest.approx(np.mean(losses), rel=1e-5)
    # the mean over batches of sum/batch is sum/12 only because the batches are equal: check the value
    assert np.mean(losses) == pytest.approx(np.mean((out - y) ** 2) + 0.1 * np.square(out).sum() / 12)


def test_activity_penalty_gradient():
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(3, 2)).astype(np.float32)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    lr, a = 0.1, 0.2
    model = dense_model(kernel, fn.optimizers.SGD(lr), activity_regularizer=regularizers.L2(a))
    model.train_on_batch(x, np.zeros((6, 2), np.float32))
    k, x64 = kernel.astype(np.float64), x.astype(np.float64)
    out = x64 @ k
    grad = x64.T @ (2 * out / out.size) + x64.T @ (2 * a * out / len(x))
    np.testing.assert_allclose(model.get_weights()[0], k - lr * grad, rtol=1e-5, atol=1e-7)


# ---- normalization layers' regularizers ----------------------------------------------------------

def test_batch_normalization_gamma_and_beta_regularizers():
    def model(**kwargs):
        m = fn.Sequential([fn.Input((2,)), fn.layers.BatchNormalization(**kwargs)])
        m.set_weights([np.array([2.0, -3.0], np.float32), np.array([0.5, 1.0], np.float32),
                       np.array([0.1, 0.2], np.float32), np.array([1.5, 0.5], np.float32)])
        m.compile(fn.optimizers.SGD(0.0), "mse")
        return m

    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(10, 2)).astype(np.float32), rng.normal(size=(10, 2)).astype(np.float32)
    base = model().evaluate(x, y, verbose=0)
    with_gamma = model(gamma_regularizer=regularizers.L2(0.1)).evaluate(x, y, verbose=0)
    assert with_gamma - base == pytest.approx(0.1 * 13, rel=1e-5)
    with_both = model(gamma_regularizer=regularizers.L2(0.1), beta_regularizer="l1").evaluate(x, y, verbose=0)
    assert with_both - base == pytest.approx(1.3 + 0.01 * 1.5, rel=1e-5)
    history = model(gamma_regularizer=regularizers.L2(0.1)).fit(x, y, batch_size=10, verbose=0).history
    train_base = model().fit(x, y, batch_size=10, verbose=0).history
    assert history["loss"][0] - train_base["loss"][0] == pytest.approx(1.3, rel=1e-5)


def test_batch_normalization_gamma_penalty_gradient():
    lr = 0.1
    bn = fn.layers.BatchNormalization(gamma_regularizer=regularizers.L2(0.5), beta_regularizer=regularizers.L1(0.2))
    model = fn.Sequential([fn.Input((3,)), bn])
    gamma, beta = np.array([1.0, 2.0, -1.0], np.float32), np.array([0.5, -0.5, 1.0], np.float32)
    model.set_weights([gamma, beta, np.zeros(3, np.float32), np.ones(3, np.float32)])
    model.compile(fn.optimizers.SGD(lr), "mse")
    # constant columns: the normalized values are 0, output = beta, and the target is beta
    x = np.tile(np.array([1.0, 2.0, 3.0], np.float32), (4, 1))
    model.train_on_batch(x, np.tile(beta, (4, 1)))
    got_gamma, got_beta = model.get_weights()[:2]
    np.testing.assert_allclose(got_gamma, gamma - lr * 2 * 0.5 * gamma, rtol=1e-6)
    np.testing.assert_allclose(got_beta, beta - lr * 0.2 * np.sign(beta), rtol=1e-6)


def test_layer_normalization_gamma_regularizer():
    def model(**kwargs):
        m = fn.Sequential([fn.Input((3,)), fn.layers.LayerNormalization(**kwargs)])
        m.set_weights([np.array([1.0, 2.0, 3.0], np.float32), np.zeros(3, np.float32)])
        m.compile(fn.optimizers.SGD(0.0), "mse")
        return m

    x = np.random.default_rng(7).normal(size=(5, 3)).astype(np.float32)
    y = np.zeros((5, 3), np.float32)
    assert model(gamma_regularizer=regularizers.L1(0.5)).evaluate(x, y, verbose=0) - model().evaluate(x, y, verbose=0) == pytest.approx(3.0, rel=1e-5)


# ---- frozen layers (Keras sums penalties over trainable weights only) --------------------------------

def test_frozen_layer_weight_penalty_is_not_in_the_loss():
    # Keras 3 Layer._get_regularization_losses iterates `self.trainable_weights`: a frozen layer's
    # kernel penalty is not added, so the loss is the data loss 9.0, not 12.0.
    model = dense_model(KERNEL, kernel_regularizer=regularizers.L2(0.5), trainable=False)
    x, y = np.zeros((4, 3), np.float32), np.full((4, 1), 3.0, np.float32)
    assert model.evaluate(x, y, verbose=0) == 9.0
    assert model.fit(x, y, verbose=0).history["loss"] == [9.0]
    np.testing.assert_array_equal(model.get_weights()[0], KERNEL)


def test_frozen_batch_normalization_gamma_penalty_is_not_in_the_loss():
    # Same rule for BatchNormalization: frozen, gamma is not a trainable weight, so no penalty.
    def model(**kwargs):
        m = fn.Sequential([fn.Input((2,)), fn.layers.BatchNormalization(**kwargs)])
        m.set_weights([np.array([2.0, -3.0], np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32), np.ones(2, np.float32)])
        m.compile(fn.optimizers.SGD(0.0), "mse")
        return m

    x, y = np.ones((4, 2), np.float32), np.zeros((4, 2), np.float32)
    base = model(trainable=False).evaluate(x, y, verbose=0)
    assert model(trainable=False, gamma_regularizer=regularizers.L2(0.1)).evaluate(x, y, verbose=0) == base


def test_activity_regularizer_on_any_layer_and_activity_regularization_layer():
    # Keras: an activity penalty is l2 * sum(y^2) / batch, on any layer (BatchNormalization
    # applies it through a wrapper) and as its own layer.
    x = np.array([[1.0, -1.0], [3.0, -3.0]], np.float32)
    for layer in (fn.layers.ActivityRegularization(l2=0.5),
                  fn.layers.BatchNormalization(activity_regularizer=fn.regularizers.L2(0.5))):
        model = fn.Sequential([fn.Input((2,)), layer])
        model.compile(fn.optimizers.SGD(0.0), "mse")
        y = model.predict(x, verbose=0)
        loss = model.evaluate(x, np.zeros_like(x), verbose=0)
        expected = np.mean(y.astype(np.float64) ** 2) + 0.5 * np.sum(y.astype(np.float64) ** 2) / 2
        assert loss == pytest.approx(expected, rel=1e-5), type(layer).__name__

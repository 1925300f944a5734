"""Each optimizer's update rule against Keras 3's measured values (keras-api.md 3.4):
three steps from w=[1,-2] with the constant gradient g=[0.5,-1]."""

import numpy as np
import pytest

import ferronet as fn

KERAS_STEPS = {
    "sgd": (lambda: fn.optimizers.SGD(0.1), [[0.95, -1.9], [0.9, -1.8], [0.85, -1.7]]),
    "sgd_momentum": (lambda: fn.optimizers.SGD(0.1, momentum=0.9), [None, [0.855, -1.71], [0.7195, -1.439]]),
    "sgd_nesterov": (lambda: fn.optimizers.SGD(0.1, momentum=0.9, nesterov=True), [[0.905, -1.81], [0.7695, -1.539], [0.59755, -1.1951]]),
    "adam": (lambda: fn.optimizers.Adam(0.1), [[0.900001, -1.900001], [0.800003, -1.800002], [0.700004, -1.700003]]),
    "adamw": (lambda: fn.optimizers.AdamW(0.1), [[0.899601, -1.899201], None, [0.698924, -1.697724]]),
    "rmsprop": (lambda: fn.optimizers.RMSprop(0.1), [[0.683773, -1.683772], [0.454357, -1.454357], [0.262263, -1.262262]]),
    "adagrad": (lambda: fn.optimizers.Adagrad(0.1), [[0.915485, -1.904654], [0.850935, -1.835647], [0.796702, -1.778851]]),
}


# The recorded Keras figures come from the JAX backend, whose XLA float32 arithmetic drifts from
# the exact rule by up to 2.6e-6 after three Adam steps (float64 evaluation of Keras's formula:
# 0.8000011 where JAX printed 0.800003). We match the exact rule to 1e-6 (test below) and the
# recorded figures to 3e-6.
RECORDED_TOLERANCE = {"adam": 3e-6, "adamw": 3e-6}


@pytest.mark.parametrize("case", sorted(KERAS_STEPS))
def test_optimizer_matches_keras_recorded_values(case):
    make, expected = KERAS_STEPS[case]
    atol = RECORDED_TOLERANCE.get(case, 1e-6)
    opt = make()
    w = fn.tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    g = fn.tensor(np.array([0.5, -1.0], np.float32))
    for step, want in enumerate(expected):
        opt.apply_gradients([(g, w)])
        if want is not None:
            np.testing.assert_allclose(w.numpy(), want, atol=atol, err_msg=f"{case} step {step + 1}")
    assert opt.iterations == 3


def keras_rule_float64(name, w, grads, lr=0.05):
    """Keras 3's update rules (keras-api.md 3.4) evaluated in float64."""
    w = w.astype(np.float64).copy()
    m = np.zeros_like(w); v = np.zeros_like(w); vhat = np.zeros_like(w); acc = np.full_like(w, 0.1)
    out = []
    for t, g in enumerate(grads, start=1):
        if name == "adamw":
            w -= w * 0.004 * lr
        if name in ("adam", "adamw", "amsgrad"):
            alpha = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            m += (g - m) * 0.1
            v += (g * g - v) * 0.001
            vhat = np.maximum(vhat, v)
            w -= alpha * m / (np.sqrt(vhat if name == "amsgrad" else v) + 1e-7)
        elif name == "sgd_momentum":
            m = 0.9 * m - lr * g
            w += m
        elif name == "sgd_nesterov":
            m = 0.9 * m - lr * g
            w += 0.9 * m - lr * g
        elif name == "rmsprop":
            v = 0.9 * v + 0.1 * g * g
            w -= lr * g / np.sqrt(v + 1e-7)
        elif name == "rmsprop_centered_momentum":
            v = 0.9 * v + 0.1 * g * g
            m = 0.9 * m + 0.1 * g
            inc = lr * g / np.sqrt(v - m * m + 1e-7)
            vhat = 0.5 * vhat + inc
            w -= vhat
        elif name == "adagrad":
            acc += g * g
            w -= lr * g / np.sqrt(acc + 1e-7)
        out.append(w.copy())
    return out


FLOAT64_CASES = {
    "adam": lambda: fn.optimizers.Adam(0.05),
    "adamw": lambda: fn.optimizers.AdamW(0.05),
    "amsgrad": lambda: fn.optimizers.Adam(0.05, amsgrad=True),
    "sgd_momentum": lambda: fn.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: fn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: fn.optimizers.RMSprop(0.05),
    "rmsprop_centered_momentum": lambda: fn.optimizers.RMSprop(0.05, momentum=0.5, centered=True),
    "adagrad": lambda: fn.optimizers.Adagrad(0.05),
}


@pytest.mark.parametrize("case", sorted(FLOAT64_CASES))
def test_optimizer_matches_float64_keras_rule(case):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=7).astype(np.float32)
    grads = [rng.normal(size=7).astype(np.float32) for _ in range(5)]
    w = fn.tensor(w0.copy(), requires_grad=True)
    opt = FLOAT64_CASES[case]()
    expected = keras_rule_float64(case, w0, [g.astype(np.float64) for g in grads])
    for step, (g, want) in enumerate(zip(grads, expected)):
        opt.apply_gradients([(fn.tensor(g), w)])
        np.testing.assert_allclose(w.numpy(), want, atol=1e-6, rtol=1e-6, err_msg=f"{case} step {step + 1}")


def test_keras_defaults():
    assert fn.optimizers.SGD().learning_rate == pytest.approx(0.01)
    adam = fn.optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (pytest.approx(0.001), 0.9, 0.999, 1e-7)
    assert fn.optimizers.AdamW().weight_decay == 0.004
    assert fn.optimizers.RMSprop().rho == 0.9
    assert fn.optimizers.Adagrad().initial_accumulator_value == 0.1


def test_learning_rate_is_assignable_after_use():
    opt = fn.optimizers.SGD(0.1)
    w = fn.tensor(np.array([1.0], np.float32), requires_grad=True)
    opt.apply_gradients([(fn.tensor(np.array([1.0], np.float32)), w)])
    opt.learning_rate = 0.5
    opt.apply_gradients([(fn.tensor(np.array([1.0], np.float32)), w)])
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.1 - 0.5], atol=1e-7)


@pytest.mark.parametrize("clip, expected", [
    ({"clipvalue": 0.3}, [1.0 - 0.03, -2.0 + 0.03]),
    ({"clipnorm": 0.5}, [1.0 - 0.1 * 0.5 * 0.5 / np.sqrt(1.25), -2.0 + 0.1 * 0.5 / np.sqrt(1.25)]),
    ({"global_clipnorm": 0.5}, [1.0 - 0.1 * 0.5 * 0.5 / np.sqrt(1.25), -2.0 + 0.1 * 0.5 / np.sqrt(1.25)]),
])
def test_gradient_clipping(clip, expected):
    opt = fn.optimizers.SGD(0.1, **clip)
    w = fn.tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    opt.apply_gradients([(fn.tensor(np.array([0.5, -1.0], np.float32)), w)])
    np.testing.assert_allclose(w.numpy(), expected, atol=1e-6)


def test_global_clipnorm_spans_all_weights():
    opt = fn.optimizers.SGD(1.0, global_clipnorm=1.0)
    a = fn.tensor(np.array([0.0], np.float32), requires_grad=True)
    b = fn.tensor(np.array([0.0], np.float32), requires_grad=True)
    opt.apply_gradients([(fn.tensor(np.array([3.0], np.float32)), a), (fn.tensor(np.array([4.0], np.float32)), b)])
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [-0.6, -0.8], atol=1e-6)


def test_weight_decay_is_decoupled_and_applied_first():
    opt = fn.optimizers.SGD(0.1, weight_decay=0.5)
    w = fn.tensor(np.array([2.0], np.float32), requires_grad=True)
    opt.apply_gradients([(fn.tensor(np.array([1.0], np.float32)), w)])
    # w -= w * wd * lr (2 - 0.1 = 1.9), then w -= lr * g
    np.testing.assert_allclose(w.numpy(), [1.9 - 0.1], atol=1e-6)


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="Only one of"):
        fn.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        fn.optimizers.Adam(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        fn.optimizers.get("adamm")

"""BatchNormalization and LayerNormalization against Keras 3's rules (keras-api.md section 2):
Keras's verified values, a float64 NumPy reference (biased variance, momentum 0.99, epsilon 1e-3)
for training outputs, moving statistics and inference outputs, finite-difference gradients, frozen
layers, weights and summary counts."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import BALANCED, STRICT, Tolerance, assert_close, assert_grad_close, check_raises, numeric_grad

EPS = 1e-3
MOMENTUM = 0.99
MOVING = Tolerance(rtol=1e-5, atol=1e-6)


def reduce_axes(ndim, axis):
    axis = axis % ndim
    return tuple(a for a in range(ndim) if a != axis), axis


def channel_view(v, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(v, np.float64).reshape(shape)


def np_bn_train(x, gamma, beta, axis=-1, eps=EPS):
    axes, axis = reduce_axes(x.ndim, axis)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased, as Keras
    return channel_view(gamma, x.ndim, axis) * (x - mean) / np.sqrt(var + eps) + channel_view(beta, x.ndim, axis)


def np_bn_stats(x, axis=-1):
    axes, _ = reduce_axes(x.ndim, axis)
    return x.mean(axis=axes), x.var(axis=axes)


def np_bn_infer(x, gamma, beta, moving_mean, moving_var, axis=-1, eps=EPS):
    axis = axis % x.ndim
    v = lambda a: channel_view(a, x.ndim, axis)
    return v(gamma) * (x - v(moving_mean)) / np.sqrt(v(moving_var) + eps) + v(beta)


def np_layer_norm(x, gamma, beta, eps=EPS):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def random(shape, seed, low=-3.0, high=5.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def built_bn(shape, seed=0, **kwargs):
    """A built BatchNormalization with random gamma, beta and moving statistics."""
    layer = fn.layers.BatchNormalization(**kwargs)
    layer.build((None,) + tuple(shape[1:]))
    channels = shape[layer.axis]
    rng = np.random.default_rng(seed + 1000)
    weights = [rng.uniform(0.5, 2.0, channels), rng.normal(size=channels), rng.normal(size=channels), rng.uniform(0.5, 3.0, channels)]
    layer.set_weights([w.astype(np.float32) for w in weights])
    return layer, [w.astype(np.float32).astype(np.float64) for w in weights]


# ---- Keras's verified values ---------------------------------------------------------------------

def test_keras_verified_values():
    x = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    layer = fn.layers.BatchNormalization()
    out = layer(x, training=True).numpy()
    assert_close(out.ravel(), [-1.3411043, -0.4470347, 0.4470348, 1.3411045], STRICT)
    gamma, beta, moving_mean, moving_variance = layer.get_weights()
    assert_close(moving_mean, [0.025], STRICT)
    assert_close(moving_variance, [1.0025], STRICT)  # biased variance 1.25: 0.99 + 0.01 * 1.25
    assert gamma.tolist() == [1.0] and beta.tolist() == [0.0]
    assert_close(layer(x).numpy().ravel(), [0.9732982, 1.9715527, 2.9698071, 3.9680617], STRICT)
    assert_close(layer(x, training=False).numpy().ravel(), [0.9732982, 1.9715527, 2.9698071, 3.9680617], STRICT)


def test_keras_verified_values_through_a_model():
    x = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    model = fn.Sequential([fn.Input((1,)), fn.layers.BatchNormalization()])
    assert_close(model(x, training=True).numpy().ravel(), [-1.3411043, -0.4470347, 0.4470348, 1.3411045], STRICT)
    assert_close(model.predict(x, verbose=0).ravel(), [0.9732982, 1.9715527, 2.9698071, 3.9680617], STRICT)
    assert_close(model.get_weights()[2:], [[0.025], [1.0025]], STRICT)


# ---- float64 reference: training, moving statistics, inference -------------------------------------

CASES = {
    "nc": ((64, 5), -1),
    "nhwc": ((6, 4, 3, 3), -1),
    "ncl_axis1": ((10, 4, 7), 1),
    "nhwc_axis_minus3": ((5, 3, 4, 2), -3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_output_and_moving_statistics_over_calls(case):
    shape, axis = CASES[case]
    layer, (gamma, beta, mm, mv) = built_bn(shape, axis=axis)
    for step in range(4):
        x = random(shape, seed=step) * (step + 1)
        out = layer(x, training=True).numpy()
        x64 = x.astype(np.float64)
        assert out.shape == x.shape and out.dtype == np.float32
        assert_close(out, np_bn_train(x64, gamma, beta, axis), BALANCED, what=f"training output, step {step}")
        mean, var = np_bn_stats(x64, axis)
        mm = mm * MOMENTUM + mean * (1 - MOMENTUM)
        mv = mv * MOMENTUM + var * (1 - MOMENTUM)
        got = layer.get_weights()
        assert_close(got[2], mm, MOVING, what=f"moving_mean, step {step}")
        assert_close(got[3], mv, MOVING, what=f"moving_variance, step {step}")
        assert_close(got[0], gamma, STRICT)
        assert_close(got[1], beta, STRICT)
    x = random(shape, seed=99)
    assert_close(layer(x).numpy(), np_bn_infer(x.astype(np.float64), gamma, beta, mm, mv, axis), BALANCED, what="inference")


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_on_batch_updates_moving_statistics_with_fixed_gamma_beta(case):
    shape, axis = CASES[case]
    channels = shape[axis]
    model = fn.Sequential([fn.Input(shape[1:]), fn.layers.BatchNormalization(axis=axis)])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    gamma, beta = np.ones(channels), np.zeros(channels)
    mm, mv = np.zeros(channels), np.ones(channels)
    for step in range(5):
        x = random(shape, seed=10 + step, low=-1.0, high=4.0 + step)
        y = random(shape, seed=20 + step)
        loss = model.train_on_batch(x, y)
        x64 = x.astype(np.float64)
        expected_out = np_bn_train(x64, gamma, beta, axis)
        assert loss == pytest.approx(np.mean((expected_out - y) ** 2), rel=1e-4)  # training-mode forward
        mean, var = np_bn_stats(x64, axis)
        mm = mm * MOMENTUM + mean * (1 - MOMENTUM)
        mv = mv * MOMENTUM + var * (1 - MOMENTUM)
    weights = model.get_weights()
    assert_close(weights[0], gamma, STRICT)
    assert_close(weights[1], beta, STRICT)
    assert_close(weights[2], mm, MOVING, what="moving_mean")
    assert_close(weights[3], mv, MOVING, what="moving_variance")
    x = random(shape, seed=50)
    expected = np_bn_infer(x.astype(np.float64), gamma, beta, mm, mv, axis)
    assert_close(model.predict(x, verbose=0), expected, BALANCED, what="predict")
    assert_close(model(x).numpy(), expected, BALANCED, what="model(x)")
    assert model.evaluate(x, np.zeros(shape, np.float32), verbose=0) == pytest.approx(np.mean(expected**2), rel=1e-4)
    assert_close(model.get_weights()[2], mm, MOVING)  # inference leaves the moving statistics alone


def test_fit_moves_statistics_towards_the_data():
    x = random((256, 3), seed=0, low=4.0, high=6.0)  # mean 5, variance 1/3
    model = fn.Sequential([fn.Input((3,)), fn.layers.BatchNormalization(momentum=0.9)])
    model.compile("sgd", "mse")
    model.fit(x, np.zeros_like(x), batch_size=32, epochs=8, verbose=0)
    _, _, mm, mv = model.get_weights()
    np.testing.assert_allclose(mm, x.mean(0), atol=0.05)
    np.testing.assert_allclose(mv, x.var(0), rtol=0.15)


# ---- gradients -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_training_gradients_match_finite_differences(case):
    shape, axis = CASES[case]
    layer, (gamma, beta, _, _) = built_bn(shape, seed=3, axis=axis)
    x = random(shape, seed=7, low=-2.0, high=2.0)
    xt = fn.tensor(x, requires_grad=True)
    out = layer(xt, training=True)
    weights = np.random.default_rng(11).standard_normal(shape)
    (out * weights.astype(np.float32)).sum().backward()
    inputs = [x.astype(np.float64), gamma.copy(), beta.copy()]
    reference = lambda x_, g_, b_: np_bn_train(x_, g_, b_, axis)
    assert_grad_close(xt.grad.numpy(), numeric_grad(reference, inputs, 0, weights), "d/dx")
    assert_grad_close(layer.gamma.grad.numpy(), numeric_grad(reference, inputs, 1, weights), "d/dgamma")
    assert_grad_close(layer.beta.grad.numpy(), numeric_grad(reference, inputs, 2, weights), "d/dbeta")


def test_training_gradient_of_a_plain_sum_is_zero():
    # sum over a channel of normalized values is 0 whatever x is: d sum(y) / dx = 0.
    x = random((32, 4), seed=1)
    xt = fn.tensor(x, requires_grad=True)
    fn.layers.BatchNormalization()(xt, training=True).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), 0.0, atol=1e-5)


def test_inference_gradients_use_the_moving_statistics():
    shape = (12, 5)
    layer, (gamma, beta, mm, mv) = built_bn(shape, seed=4)
    x = random(shape, seed=2)
    xt = fn.tensor(x, requires_grad=True)
    weights = np.random.default_rng(3).standard_normal(shape)
    (layer(xt) * weights.astype(np.float32)).sum().backward()
    inputs = [x.astype(np.float64), gamma.copy(), beta.copy()]
    reference = lambda x_, g_, b_: np_bn_infer(x_, g_, b_, mm, mv)
    for i, got in enumerate([xt.grad, layer.gamma.grad, layer.beta.grad]):
        assert_grad_close(got.numpy(), numeric_grad(reference, inputs, i, weights), f"input {i}")


def test_sgd_step_on_gamma_and_beta_follows_the_gradient():
    # loss = mean((gamma * xhat + beta - y)^2): one SGD step, checked against the float64 gradient.
    x, y = random((16, 3), seed=5), random((16, 3), seed=6)
    model = fn.Sequential([fn.Input((3,)), fn.layers.BatchNormalization()])
    model.compile(fn.optimizers.SGD(0.1), "mse")
    model.train_on_batch(x, y)
    x64 = x.astype(np.float64)
    xhat = np_bn_train(x64, np.ones(3), np.zeros(3))
    residual = 2 * (xhat - y) / y.size
    gamma, beta = model.get_weights()[:2]
    assert_close(gamma, 1 - 0.1 * (residual * xhat).sum(0), BALANCED)
    assert_close(beta, -0.1 * residual.sum(0), Tolerance(rtol=5e-3, atol=1e-6))


# ---- frozen layers -------------------------------------------------------------------------------

@pytest.mark.parametrize("freeze_before_first_call", [True, False])
def test_frozen_layer_runs_in_inference_mode(freeze_before_first_call):
    shape = (20, 4)
    layer, (gamma, beta, mm, mv) = built_bn(shape, seed=6)
    x = random(shape, seed=8)
    if not freeze_before_first_call:
        layer(x)  # the engine layer exists before trainable changes
    layer.trainable = False
    expected = np_bn_infer(x.astype(np.float64), gamma, beta, mm, mv)
    assert_close(layer(x, training=True).numpy(), expected, BALANCED)
    assert_close(layer.get_weights()[2], mm, STRICT)
    assert_close(layer.get_weights()[3], mv, STRICT)
    layer.trainable = True
    assert_close(layer(x, training=True).numpy(), np_bn_train(x.astype(np.float64), gamma, beta), BALANCED)
    assert not np.allclose(layer.get_weights()[2], mm)


def test_frozen_layer_in_training_keeps_every_weight():
    shape = (16, 3)
    model = fn.Sequential([fn.Input((3,)), fn.layers.BatchNormalization(trainable=False), fn.layers.Dense(2)])
    bn = model.layers[0]
    before = model.get_weights()
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    model.compile(fn.optimizers.SGD(0.5), "mse")
    x, y = random(shape, seed=1), random((16, 2), seed=2)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    after = model.get_weights()
    for i in range(4):
        assert after[i].tobytes() == before[i].tobytes(), f"BatchNormalization weight {i} changed"
    assert after[4].tobytes() != before[4].tobytes()  # the Dense kernel trained
    assert_close(bn(x, training=True).numpy(), np_bn_infer(x.astype(np.float64), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)), BALANCED)


# ---- weights, options and summary ----------------------------------------------------------------

@pytest.mark.parametrize("center, scale, names", [
    (True, True, ["gamma", "beta", "moving_mean", "moving_variance"]),
    (False, True, ["gamma", "moving_mean", "moving_variance"]),
    (True, False, ["beta", "moving_mean", "moving_variance"]),
    (False, False, ["moving_mean", "moving_variance"]),
])
def test_center_scale_weights(center, scale, names):
    channels = 6
    layer = fn.layers.BatchNormalization(center=center, scale=scale)
    model = fn.Sequential([fn.Input((4, channels)), layer])
    assert [name for name, _, _ in layer._weights] == names
    assert [w.shape for w in layer.get_weights()] == [(channels,)] * len(names)
    assert layer.count_params() == model.count_params() == channels * len(names)
    assert len(layer.trainable_weights) == len(names) - 2 and len(layer.non_trainable_weights) == 2
    rng = np.random.default_rng(0)
    values = {"gamma": rng.uniform(0.5, 2, channels), "beta": rng.normal(size=channels),
              "moving_mean": rng.normal(size=channels), "moving_variance": rng.uniform(0.5, 2, channels)}
    layer.set_weights([values[n].astype(np.float32) for n in names])
    gamma = values["gamma"] if scale else np.ones(channels)
    beta = values["beta"] if center else np.zeros(channels)
    x = random((3, 4, channels), seed=4)
    g32, b32 = gamma.astype(np.float32), beta.astype(np.float32)
    mm, mv = values["moving_mean"].astype(np.float32), values["moving_variance"].astype(np.float32)
    assert_close(layer(x).numpy(), np_bn_infer(x.astype(np.float64), g32, b32, mm, mv), BALANCED)
    assert_close(layer(x, training=True).numpy(), np_bn_train(x.astype(np.float64), g32, b32), BALANCED)


def test_get_weights_order_and_initializers():
    layer = fn.layers.BatchNormalization(gamma_initializer=fn.initializers.Constant(2.0), beta_initializer="ones",
                                         moving_mean_initializer=fn.initializers.Constant(0.5),
                                         moving_variance_initializer=fn.initializers.Constant(3.0))
    layer.build((None, 3))
    assert [w.tolist() for w in layer.get_weights()] == [[2.0] * 3, [1.0] * 3, [0.5] * 3, [3.0] * 3]
    assert layer.weights[0] is layer.gamma and layer.weights[1] is layer.beta
    assert layer.non_trainable_weights[0] is layer.moving_mean and layer.non_trainable_weights[1] is layer.moving_variance
    check_raises(ValueError, lambda: layer.set_weights(layer.get_weights()[:3]), "expected 4 weight arrays, got 3")


def test_summary_counts_four_c_with_two_c_non_trainable():
    fn.utils.clear_session()
    model = fn.Sequential([fn.Input((8, 8, 16)), fn.layers.BatchNormalization()])
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "(None, 8, 8, 16)" in text and "64 │" in text
    assert " Total params: 64 (256.00 B)" in text
    assert " Trainable params: 32 (128.00 B)" in text
    assert " Non-trainable params: 32 (128.00 B)" in text
    assert model.count_params() == 64


def test_config_round_trip_and_custom_momentum_epsilon():
    layer = fn.layers.BatchNormalization(axis=1, momentum=0.5, epsilon=0.1, center=False)
    clone = fn.layers.BatchNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = random((6, 2, 5), seed=1)
    clone.build((None, 2, 5))
    out = clone(x, training=True).numpy()
    assert_close(out, np_bn_train(x.astype(np.float64), np.ones(2), np.zeros(2), axis=1, eps=0.1), BALANCED)
    mean, var = np_bn_stats(x.astype(np.float64), 1)
    assert_close(clone.get_weights()[1], 0.5 * 0 + 0.5 * mean, MOVING)
    assert_close(clone.get_weights()[2], 0.5 * 1 + 0.5 * var, MOVING)


@pytest.mark.parametrize("make, fragments", [
    (lambda: fn.layers.BatchNormalization(axis=1.5), ["BatchNormalization", "axis"]),
    (lambda: fn.layers.BatchNormalization(momentum=1.5), ["momentum=1.5"]),
    (lambda: fn.layers.BatchNormalization(epsilon=0.0), ["epsilon=0.0"]),
    (lambda: fn.layers.BatchNormalization(axis=3).build((None, 4, 5)), ["axis=3", "(None, 4, 5)"]),
    (lambda: fn.layers.BatchNormalization().build((None, None)), ["known channel axis"]),
])
def test_batch_normalization_bad_arguments(make, fragments):
    check_raises(ValueError, make, *fragments)


def test_batch_normalization_wrong_channel_count_at_call():
    layer = fn.layers.BatchNormalization()
    layer(np.ones((2, 3), np.float32))
    check_raises(ValueError, lambda: layer(np.ones((2, 4), np.float32)), layer.name)


# ---- LayerNormalization ----------------------------------------------------------------------------

def built_ln(width, seed=0, **kwargs):
    layer = fn.layers.LayerNormalization(**kwargs)
    layer.build((None, width))
    rng = np.random.default_rng(seed)
    values = [rng.uniform(0.5, 2.0, width).astype(np.float32) for _ in range(int(layer.scale))]
    values += [rng.normal(size=width).astype(np.float32) for _ in range(int(layer.center))]
    layer.set_weights(values)
    gamma = values[0].astype(np.float64) if layer.scale else np.ones(width)
    beta = values[-1].astype(np.float64) if layer.center else np.zeros(width)
    return layer, gamma, beta


@pytest.mark.parametrize("shape", [(32, 10), (4, 6, 7), (3, 1)])
def test_layer_normalization_matches_reference_in_training_and_inference(shape):
    layer, gamma, beta = built_ln(shape[-1], seed=1)
    x = random(shape, seed=2)
    expected = np_layer_norm(x.astype(np.float64), gamma, beta)
    assert_close(layer(x).numpy(), expected, BALANCED)
    assert_close(layer(x, training=True).numpy(), expected, BALANCED)  # no batch statistics
    model = fn.Sequential([fn.Input(shape[1:]), layer])
    assert_close(model.predict(x, verbose=0), expected, BALANCED)


def test_layer_normalization_keras_default_epsilon():
    # [1, 3]: mean 2, variance 1 -> (x - 2) / sqrt(1 + 1e-3)
    out = fn.layers.LayerNormalization()(np.array([[1.0, 3.0]], np.float32)).numpy()
    assert_close(out, [[-1 / np.sqrt(1.001), 1 / np.sqrt(1.001)]], STRICT)
    assert fn.layers.LayerNormalization().epsilon == 1e-3
    small = np.array([[0.0, 0.02]], np.float32)  # variance 1e-4, well under epsilon
    assert_close(fn.layers.LayerNormalization()(small).numpy(), np_layer_norm(small.astype(np.float64), 1.0, 0.0), STRICT)


@pytest.mark.parametrize("shape", [(6, 8), (2, 3, 5)])
def test_layer_normalization_gradients(shape):
    layer, gamma, beta = built_ln(shape[-1], seed=3)
    x = random(shape, seed=4, low=-2.0, high=2.0)
    xt = fn.tensor(x, requires_grad=True)
    weights = np.random.default_rng(5).standard_normal(shape)
    (layer(xt) * weights.astype(np.float32)).sum().backward()
    inputs = [x.astype(np.float64), gamma.copy(), beta.copy()]
    for i, got in enumerate([xt.grad, layer.gamma.grad, layer.beta.grad]):
        assert_grad_close(got.numpy(), numeric_grad(np_layer_norm, inputs, i, weights), f"input {i}")


@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
def test_layer_normalization_center_scale(center, scale):
    layer, gamma, beta = built_ln(5, seed=6, center=center, scale=scale)
    assert len(layer.get_weights()) == int(center) + int(scale) == layer.count_params() // 5
    x = random((4, 5), seed=7)
    assert_close(layer(x).numpy(), np_layer_norm(x.astype(np.float64), gamma, beta), BALANCED)


def test_layer_normalization_weights_and_errors():
    model = fn.Sequential([fn.Input((7,)), fn.layers.LayerNormalization()])
    assert [w.tolist() for w in model.get_weights()] == [[1.0] * 7, [0.0] * 7]
    assert model.count_params() == 14 and len(model.non_trainable_weights) == 0
    check_raises(ValueError, lambda: fn.layers.LayerNormalization(epsilon=-1.0), "LayerNormalization", "epsilon=-1.0")
    check_raises(NotImplementedError, lambda: fn.layers.LayerNormalization(axis=1), "axis=1")

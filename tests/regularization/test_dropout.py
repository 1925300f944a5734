"""Dropout, GaussianNoise and GaussianDropout against Keras 3's definitions: identity in inference,
inverted dropout (kept values scaled by exactly 1/(1-rate)) and Gaussian noise of the documented
mean and variance in training, seeded masks, noise_shape broadcasting, and the gradient."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises

LARGE = (400, 250)  # 100,000 values: the kept fraction's standard error is under 0.0016


def large_input(seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=LARGE).astype(np.float32)


def model_with(layer, shape=LARGE[1:]):
    return fn.Sequential([fn.Input(shape), layer])


# ---- inference: the identity -------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: fn.layers.Dropout(0.5), lambda: fn.layers.Dropout(0.3, seed=1),
                                  lambda: fn.layers.GaussianNoise(1.0), lambda: fn.layers.GaussianDropout(0.4, seed=2)],
                         ids=["dropout", "dropout_seeded", "gaussian_noise", "gaussian_dropout"])
def test_noise_layers_are_the_identity_in_inference(make):
    x = np.random.default_rng(0).normal(size=(64, 7)).astype(np.float32)
    layer = make()
    assert layer(x).numpy().tobytes() == x.tobytes()
    assert layer(x, training=False).numpy().tobytes() == x.tobytes()
    model = model_with(make(), (7,))
    assert model.predict(x, verbose=0).tobytes() == x.tobytes()
    assert model(x).numpy().tobytes() == x.tobytes()
    model.compile(fn.optimizers.SGD(0.0), "mse")
    assert model.evaluate(x, x, verbose=0) == 0.0  # evaluate runs in inference mode too


# ---- Dropout in training -------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.8])
def test_dropout_keeps_one_minus_rate_scaled_exactly(rate):
    fn.utils.set_random_seed(int(rate * 10))
    x = large_input()
    y = fn.layers.Dropout(rate)(x, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.01
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    np.testing.assert_array_equal(y[kept], x[kept] * scale)  # exactly x / (1 - rate), in float32
    assert y.dtype == np.float32 and y.shape == x.shape


def test_dropout_in_model_call_with_training_true():
    fn.utils.set_random_seed(3)
    x = large_input()
    y = model_with(fn.layers.Dropout(0.25))(x, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_array_equal(y[kept], x[kept] * (np.float32(1) / np.float32(0.75)))


def test_dropout_drops_evenly_across_positions():
    # No row or column is favoured: every column keeps about 1 - rate of its 400 values.
    fn.utils.set_random_seed(4)
    kept = fn.layers.Dropout(0.5)(np.ones(LARGE, np.float32), training=True).numpy() != 0
    per_column = kept.mean(axis=0)
    assert np.all(np.abs(per_column - 0.5) < 0.1)  # 4 standard errors of 0.025
    per_row = kept.mean(axis=1)
    assert np.all(np.abs(per_row - 0.5) < 0.13)  # 4 standard errors of 0.032


def test_dropout_same_seed_same_mask_different_seed_different_mask():
    x = large_input()
    a = fn.layers.Dropout(0.5, seed=3)(x, training=True).numpy()
    b = fn.layers.Dropout(0.5, seed=3)(x, training=True).numpy()
    c = fn.layers.Dropout(0.5, seed=4)(x, training=True).numpy()
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert abs(((a != 0) == (c != 0)).mean() - 0.5) < 0.01  # independent masks agree half the time


def test_seeded_dropout_advances_its_own_generator():
    # As a Keras SeedGenerator: a seeded layer gives a new mask each call, and the same sequence
    # of masks as another layer with the same seed, whatever the global seed.
    x = np.ones((50, 40), np.float32)
    first, second = fn.layers.Dropout(0.5, seed=11), fn.layers.Dropout(0.5, seed=11)
    fn.utils.set_random_seed(1)
    masks1 = [first(x, training=True).numpy() for _ in range(3)]
    fn.utils.set_random_seed(2)
    masks2 = [second(x, training=True).numpy() for _ in range(3)]
    assert masks1[0].tobytes() != masks1[1].tobytes() != masks1[2].tobytes()
    assert [m.tobytes() for m in masks1] == [m.tobytes() for m in masks2]


def test_unseeded_dropout_new_mask_each_call_repeatable_under_global_seed():
    x = np.ones((50, 40), np.float32)
    layer = fn.layers.Dropout(0.5)
    fn.utils.set_random_seed(5)
    a, b = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert a.tobytes() != b.tobytes()
    fn.utils.set_random_seed(5)
    assert layer(x, training=True).numpy().tobytes() == a.tobytes()
    assert fn.layers.Dropout(0.5)(x, training=True).numpy().tobytes() == b.tobytes()


def test_dropout_noise_shape_broadcasts_the_mask():
    x = large_input()[:200, :50]
    y = fn.layers.Dropout(0.5, noise_shape=(None, 1), seed=7)(x, training=True).numpy()
    kept = y != 0
    rows_kept = kept.all(axis=1)
    assert np.array_equal(kept.any(axis=1), rows_kept)  # each row is all kept or all dropped
    assert 0.35 < rows_kept.mean() < 0.65 and 0 < rows_kept.sum() < 200
    np.testing.assert_array_equal(y[rows_kept], x[rows_kept] * np.float32(2))
    # (1, None): one mask row shared by every sample, so whole columns go together.
    y = fn.layers.Dropout(0.5, noise_shape=(1, None), seed=7)(x, training=True).numpy()
    cols_kept = (y != 0).all(axis=0)
    assert np.array_equal((y != 0).any(axis=0), cols_kept)
    assert 0 < cols_kept.sum() < 50


def test_dropout_noise_shape_in_3d_drops_whole_timesteps():
    x = np.ones((8, 30, 6), np.float32)
    y = fn.layers.Dropout(0.4, noise_shape=(None, None, 1), seed=2)(x, training=True).numpy()
    kept = y != 0
    assert np.array_equal(kept.any(axis=2), kept.all(axis=2))
    assert 0 < kept.all(axis=2).sum() < 8 * 30


@pytest.mark.parametrize("noise_shape", [(None, 3), (None, 1, 1)])
def test_dropout_bad_noise_shape(noise_shape):
    layer = fn.layers.Dropout(0.5, noise_shape=noise_shape)
    check_raises(ValueError, lambda: layer(np.ones((4, 5), np.float32), training=True), layer.name, "noise_shape")


def test_dropout_rate_zero_is_the_identity_in_training():
    x = large_input()
    assert fn.layers.Dropout(0.0)(x, training=True).numpy().tobytes() == x.tobytes()
    assert fn.layers.Dropout(0)(x, training=True).numpy().tobytes() == x.tobytes()


def test_dropout_gradient_is_the_mask():
    x = np.random.default_rng(1).normal(size=(30, 20)).astype(np.float32)
    t = fn.tensor(x, requires_grad=True)
    y = fn.layers.Dropout(0.4, seed=5)(t, training=True)
    y.sum().backward()
    grad = t.grad.numpy()
    scale = np.float32(1) / np.float32(0.6)
    assert set(np.unique(grad).tolist()) == {0.0, float(scale)}
    np.testing.assert_array_equal(y.numpy(), x * grad)  # output = input * mask, so d sum / dx = mask
    # and through a model: the same mask for the gradient as for the output
    t = fn.tensor(x, requires_grad=True)
    y = model_with(fn.layers.Dropout(0.4, seed=5), (20,))(t, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), grad)


def test_dropout_in_fit_regularizes_the_training_loss_only():
    # lr 0: training loss sees dropped inputs, evaluate does not.
    fn.utils.set_random_seed(0)
    x = np.ones((64, 10), np.float32)
    model = fn.Sequential([fn.Input((10,)), fn.layers.Dropout(0.5), fn.layers.Dense(1, kernel_initializer="ones", use_bias=False)])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    y = np.full((64, 1), 10.0, np.float32)
    assert model.evaluate(x, y, verbose=0) == 0.0
    loss = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history["loss"][0]
    # sum of 10 inputs each 0 or 2: variance 10 * 1 = 10 per sample, mean 10, so mse ~ 10
    assert 5.0 < loss < 15.0


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "a", None, True, float("nan")])
def test_dropout_bad_rate(rate):
    check_raises(ValueError, lambda: fn.layers.Dropout(rate), "Dropout", "rate", repr(rate))


@pytest.mark.parametrize("rate", [-0.1, 1.0, "a"])
def test_gaussian_dropout_bad_rate(rate):
    check_raises(ValueError, lambda: fn.layers.GaussianDropout(rate), "GaussianDropout", "rate", repr(rate))


@pytest.mark.parametrize("stddev", [-1.0, float("inf"), "a"])
def test_gaussian_noise_bad_stddev(stddev):
    check_raises(ValueError, lambda: fn.layers.GaussianNoise(stddev), "GaussianNoise", "stddev")


# ---- Gaussian noise in training ------------------------------------------------------------------

@pytest.mark.parametrize("stddev", [0.1, 0.5, 2.0])
def test_gaussian_noise_is_additive_normal(stddev):
    x = large_input()
    noise = fn.layers.GaussianNoise(stddev, seed=1)(x, training=True).numpy().astype(np.float64) - x
    n = noise.size
    assert abs(noise.mean()) < 5 * stddev / np.sqrt(n)
    assert abs(noise.std() / stddev - 1) < 0.02  # standard error of the std ~ 1/sqrt(2n) = 0.0022
    assert abs(((noise / stddev) ** 4).mean() - 3) < 0.1  # normal, not uniform: kurtosis 3


def test_gaussian_noise_zero_stddev_and_model_training():
    x = large_input()
    assert fn.layers.GaussianNoise(0.0)(x, training=True).numpy().tobytes() == x.tobytes()
    fn.utils.set_random_seed(2)
    noise = model_with(fn.layers.GaussianNoise(0.3))(x, training=True).numpy().astype(np.float64) - x
    assert abs(noise.std() / 0.3 - 1) < 0.02


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_gaussian_dropout_is_multiplicative_normal_around_one(rate):
    x = large_input()
    factor = fn.layers.GaussianDropout(rate, seed=1)(x, training=True).numpy().astype(np.float64) / x
    stddev = np.sqrt(rate / (1 - rate))
    assert abs(factor.mean() - 1) < 5 * stddev / np.sqrt(factor.size)
    assert abs(factor.var() / (rate / (1 - rate)) - 1) < 0.04  # standard error of the variance ~ 0.0045


def test_gaussian_layers_seeds():
    x = large_input()[:20, :30]
    for make in (lambda s: fn.layers.GaussianNoise(1.0, seed=s), lambda s: fn.layers.GaussianDropout(0.5, seed=s)):
        a, b, c = (make(s)(x, training=True).numpy() for s in (3, 3, 4))
        assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_gaussian_noise_gradient_is_one_gaussian_dropout_gradient_is_the_factor():
    x = np.random.default_rng(2).uniform(0.5, 2.0, size=(20, 10)).astype(np.float32)
    t = fn.tensor(x, requires_grad=True)
    fn.layers.GaussianNoise(1.0, seed=1)(t, training=True).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))
    t = fn.tensor(x, requires_grad=True)
    y = fn.layers.GaussianDropout(0.3, seed=1)(t, training=True)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy() * x, y.numpy(), rtol=1e-6)


def test_noise_layer_configs_round_trip():
    for layer in (fn.layers.Dropout(0.3, noise_shape=(None, 1), seed=4), fn.layers.GaussianNoise(0.2, seed=1),
                  fn.layers.GaussianDropout(0.4)):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert fn.layers.Dropout(0.3, noise_shape=[None, 1]).get_config()["noise_shape"] == (None, 1)

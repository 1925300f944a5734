"""Weight initializers against Keras 3's definitions (keras-api.md section 2, keras/src/initializers):
shapes and dtype, mean and variance of each distribution, truncation at two standard deviations,
fans (conv kernels included), seeds, orthogonality, Dense's default, and names."""

import math

import numpy as np
import pytest

import ferronet as fn
from ferronet import initializers

from ..helpers import check_raises

TRUNCATION = 0.87962566103423978  # stddev of a standard normal truncated to [-2, 2]
SHAPE = (300, 400)  # 120,000 values: the sample variance's relative standard error is about 0.4%
FAN_IN, FAN_OUT = SHAPE


def variance_of(scale, mode, shape=SHAPE):
    fan_in, fan_out = initializers.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / max(1.0, n)


def check_moments(values, mean, variance, rel=0.03):
    values = np.asarray(values, np.float64)
    sd = math.sqrt(variance)
    assert abs(values.mean() - mean) < 5 * sd / math.sqrt(values.size) + 1e-12, f"mean {values.mean()} != {mean}"
    assert values.var() == pytest.approx(variance, rel=rel), f"variance {values.var()} != {variance}"


# (class, keras string, kwargs, kind, scale, mode): the VarianceScaling family
FAMILY = [
    (initializers.GlorotUniform, "glorot_uniform", "uniform", 1.0, "fan_avg"),
    (initializers.GlorotNormal, "glorot_normal", "truncated_normal", 1.0, "fan_avg"),
    (initializers.HeUniform, "he_uniform", "uniform", 2.0, "fan_in"),
    (initializers.HeNormal, "he_normal", "truncated_normal", 2.0, "fan_in"),
    (initializers.LecunUniform, "lecun_uniform", "uniform", 1.0, "fan_in"),
    (initializers.LecunNormal, "lecun_normal", "truncated_normal", 1.0, "fan_in"),
]


def check_family_member(values, kind, scale, mode, shape=SHAPE):
    variance = variance_of(scale, mode, shape)
    assert values.shape == shape and values.dtype == np.float32
    check_moments(values, 0.0, variance)
    if kind == "uniform":
        limit = math.sqrt(3 * variance)
        assert np.abs(values).max() <= np.float32(limit)
        assert np.abs(values).max() > 0.99 * limit
    else:
        bound = 2 * math.sqrt(variance) / TRUNCATION  # two stddev of the normal before truncation
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.99 * bound


@pytest.mark.parametrize("cls, name, kind, scale, mode", FAMILY, ids=[f[1] for f in FAMILY])
def test_variance_scaling_family_by_object_and_string(cls, name, kind, scale, mode):
    by_object = cls(seed=1)(SHAPE)
    check_family_member(by_object, kind, scale, mode)
    by_string = initializers.get(name)
    assert type(by_string) is cls
    fn.utils.set_random_seed(2)
    check_family_member(by_string(SHAPE), kind, scale, mode)
    assert type(initializers.get(cls.__name__)) is cls


def test_glorot_uniform_variance_is_two_over_fan_sum():
    values = initializers.GlorotUniform(seed=0)(SHAPE)
    check_moments(values, 0.0, 2.0 / (FAN_IN + FAN_OUT))
    assert np.abs(values).max() <= math.sqrt(6.0 / (FAN_IN + FAN_OUT))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling(mode, distribution):
    init = initializers.VarianceScaling(scale=3.0, mode=mode, distribution=distribution, seed=4)
    values = init(SHAPE)
    variance = variance_of(3.0, mode)
    assert values.dtype == np.float32
    check_moments(values, 0.0, variance)
    if distribution == "untruncated_normal":
        assert np.abs(values).max() > 3.5 * math.sqrt(variance)  # real tails, unlike the truncated one
        assert abs(((values.astype(np.float64) ** 2).mean() ** 2 * 3) / (values.astype(np.float64) ** 4).mean() - 1) < 0.05
    elif distribution == "truncated_normal":
        assert np.abs(values).max() <= 2 * math.sqrt(variance) / TRUNCATION * (1 + 1e-6)
    else:
        assert np.abs(values).max() <= math.sqrt(3 * variance) * (1 + 1e-6)


def test_variance_scaling_defaults_and_string():
    init = initializers.get("variance_scaling")
    assert isinstance(init, initializers.VarianceScaling)
    assert init.get_config() == {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None}
    fn.utils.set_random_seed(0)
    check_family_member(init(SHAPE), "truncated_normal", 1.0, "fan_in")


def test_variance_scaling_normal_is_the_truncated_normal():
    # Keras lower-cases the distribution and reads "normal" as "truncated_normal".
    for name in ("normal", "Normal", "TRUNCATED_NORMAL"):
        init = initializers.VarianceScaling(distribution=name, seed=2)
        assert init.distribution == "truncated_normal"
        assert init(SHAPE).tobytes() == initializers.VarianceScaling(seed=2)(SHAPE).tobytes()


def test_conv_fans_for_a_4d_kernel():
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)  # receptive field 9 x channels
    assert initializers.compute_fans((5, 8, 4)) == (40, 20)  # Conv1D (k, in, out)
    assert initializers.compute_fans((7,)) == (7, 7)
    assert initializers.compute_fans((4, 6)) == (4, 6)
    shape = (5, 5, 32, 64)  # 51,200 values, fan_in 800, fan_out 1600
    check_family_member(initializers.HeNormal(seed=3)(shape), "truncated_normal", 2.0, "fan_in", shape)
    check_family_member(initializers.GlorotUniform(seed=3)(shape), "uniform", 1.0, "fan_avg", shape)
    check_moments(initializers.GlorotUniform(seed=3)(shape), 0.0, 2.0 / (800 + 1600))


def test_random_normal_uniform_truncated():
    check_moments(initializers.RandomNormal(seed=1)(SHAPE), 0.0, 0.05**2)
    check_moments(initializers.RandomNormal(mean=1.0, stddev=0.5, seed=1)(SHAPE), 1.0, 0.25)
    values = initializers.RandomUniform(seed=1)(SHAPE)
    check_moments(values, 0.0, 0.1**2 / 12)
    assert values.min() >= -0.05 and values.max() <= 0.05
    values = initializers.RandomUniform(minval=2.0, maxval=5.0, seed=1)(SHAPE)
    check_moments(values, 3.5, 9 / 12)
    assert values.min() >= 2.0 and values.max() <= 5.0
    values = initializers.TruncatedNormal(seed=1)(SHAPE)
    check_moments(values, 0.0, (0.05 * TRUNCATION) ** 2)
    assert np.abs(values).max() <= 0.1 * (1 + 1e-6)
    values = initializers.TruncatedNormal(mean=-1.0, stddev=2.0, seed=1)(SHAPE)
    check_moments(values, -1.0, (2.0 * TRUNCATION) ** 2)
    assert values.min() >= -5.0 and values.max() <= 3.0
    for name, cls in [("random_normal", initializers.RandomNormal), ("normal", initializers.RandomNormal),
                      ("random_uniform", initializers.RandomUniform), ("uniform", initializers.RandomUniform),
                      ("truncated_normal", initializers.TruncatedNormal)]:
        init = initializers.get(name)
        assert type(init) is cls
        assert init.get_config()["seed"] is None


def test_constant_initializers():
    for name, cls, value in [("zeros", initializers.Zeros, 0.0), ("Zeros", initializers.Zeros, 0.0), ("zero", initializers.Zeros, 0.0),
                             ("ones", initializers.Ones, 1.0), ("one", initializers.Ones, 1.0), ("constant", initializers.Constant, 0.0)]:
        init = initializers.get(name)
        assert type(init) is cls
        out = init((2, 3))
        assert out.dtype == np.float32 and out.shape == (2, 3) and np.all(out == value)
    out = initializers.Constant(2.5)((4,))
    assert out.dtype == np.float32 and out.tolist() == [2.5] * 4
    assert initializers.get({"class_name": "Constant", "config": {"value": -1.0}})((2,)).tolist() == [-1.0, -1.0]


def test_identity():
    out = initializers.Identity()((3, 3))
    assert out.dtype == np.float32 and np.array_equal(out, np.eye(3))
    assert np.array_equal(initializers.get("identity")((2, 4)), np.eye(2, 4))
    assert np.array_equal(initializers.Identity(gain=2.0)((4, 3)), 2 * np.eye(4, 3))
    check_raises(ValueError, lambda: initializers.Identity()((2, 2, 2)), "Identity", "(2, 2, 2)")


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (3, 3, 4, 8), (2, 2, 8, 64)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    values = initializers.Orthogonal(gain=gain, seed=5)(shape)
    assert values.shape == shape and values.dtype == np.float32
    flat = values.reshape(-1, shape[-1]).astype(np.float64) / gain
    rows, cols = flat.shape
    if rows >= cols:
        np.testing.assert_allclose(flat.T @ flat, np.eye(cols), atol=1e-5)  # orthonormal columns
    else:
        np.testing.assert_allclose(flat @ flat.T, np.eye(rows), atol=1e-5)  # orthonormal rows


def test_orthogonal_string_seed_and_errors():
    assert type(initializers.get("orthogonal")) is initializers.Orthogonal
    a, b = initializers.Orthogonal(seed=1)((8, 8)), initializers.Orthogonal(seed=1)((8, 8))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != initializers.Orthogonal(seed=2)((8, 8)).tobytes()
    check_raises(ValueError, lambda: initializers.Orthogonal()((5,)), "Orthogonal", "(5,)")


SEEDED = [
    lambda s: initializers.GlorotUniform(seed=s), lambda s: initializers.GlorotNormal(seed=s),
    lambda s: initializers.HeNormal(seed=s), lambda s: initializers.HeUniform(seed=s),
    lambda s: initializers.LecunNormal(seed=s), lambda s: initializers.LecunUniform(seed=s),
    lambda s: initializers.Orthogonal(seed=s), lambda s: initializers.RandomNormal(seed=s),
    lambda s: initializers.RandomUniform(seed=s), lambda s: initializers.TruncatedNormal(seed=s),
    lambda s: initializers.VarianceScaling(seed=s),
]


@pytest.mark.parametrize("make", SEEDED, ids=["glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                                              "lecun_uniform", "orthogonal", "random_normal", "random_uniform",
                                              "truncated_normal", "variance_scaling"])
def test_seed_reproducibility(make):
    a, b, c = make(7)((20, 30)), make(7)((20, 30)), make(8)((20, 30))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert make(7).get_config()["seed"] == 7
    # unseeded: drawn from ferronet's generator, repeatable under set_random_seed
    fn.utils.set_random_seed(3)
    d = make(None)((20, 30))
    e = make(None)((20, 30))
    fn.utils.set_random_seed(3)
    assert make(None)((20, 30)).tobytes() == d.tobytes()
    assert d.tobytes() != e.tobytes()


def test_config_round_trip():
    for init in (initializers.GlorotUniform(seed=3), initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
                 initializers.RandomNormal(1.0, 0.2, seed=4), initializers.Constant(3.0), initializers.Orthogonal(gain=2.0, seed=1),
                 initializers.Identity(gain=0.5), initializers.Zeros()):
        config = initializers.serialize(init)
        again = initializers.get(config)
        assert type(again) is type(init) and again.get_config() == init.get_config()
        assert again((6, 4)).tobytes() == init((6, 4)).tobytes()


def test_every_initializer_is_reachable_by_its_keras_string():
    names = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal", "HeUniform": "he_uniform",
             "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform", "Orthogonal": "orthogonal", "RandomNormal": "random_normal",
             "RandomUniform": "random_uniform", "TruncatedNormal": "truncated_normal", "Zeros": "zeros", "Ones": "ones",
             "Constant": "constant", "VarianceScaling": "variance_scaling", "Identity": "identity"}
    for cls_name, name in names.items():
        init = initializers.get(name)
        assert type(init).__name__ == cls_name
        out = init((4, 4))
        assert out.shape == (4, 4) and out.dtype == np.float32


# ---- in layers -----------------------------------------------------------------------------------

def test_dense_uses_glorot_uniform_by_default():
    layer = fn.layers.Dense(300)
    assert isinstance(layer.kernel_initializer, initializers.GlorotUniform)
    assert isinstance(layer.bias_initializer, initializers.Zeros)
    fn.utils.set_random_seed(0)
    layer.build((None, 200))
    kernel, bias = layer.get_weights()
    bound = math.sqrt(6.0 / (200 + 300))
    assert kernel.shape == (200, 300) and np.abs(kernel).max() <= np.float32(bound)
    assert np.abs(kernel).max() > 0.99 * bound
    check_moments(kernel, 0.0, 2.0 / 500)
    assert np.all(bias == 0)


def test_dense_initializers_by_string_object_and_callable():
    layer = fn.layers.Dense(3, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    layer.build((None, 2))
    assert layer.get_weights()[0].tolist() == [[1.0] * 3] * 2 and layer.get_weights()[1].tolist() == [0.5] * 3
    layer = fn.layers.Dense(3, kernel_initializer=lambda shape, dtype=None: np.full(shape, 2.0))
    layer.build((None, 2))
    assert layer.get_weights()[0].tolist() == [[2.0] * 3] * 2
    layer = fn.layers.Dense(4, kernel_initializer=initializers.Orthogonal(seed=0))
    layer.build((None, 4))
    kernel = layer.get_weights()[0].astype(np.float64)
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(4), atol=1e-5)


def test_same_global_seed_same_dense_weights():
    def weights():
        fn.utils.set_random_seed(42)
        return fn.Sequential([fn.Input((5,)), fn.layers.Dense(4), fn.layers.Dense(2, kernel_initializer="he_normal")]).get_weights()

    assert [w.tobytes() for w in weights()] == [w.tobytes() for w in weights()]


@pytest.mark.parametrize("name", ["glorot", "he_normall", "Glorot_Uniform", "xavier"])
def test_unknown_initializer_name(name):
    check_raises(ValueError, lambda: initializers.get(name), "initializer", repr(name))
    check_raises(ValueError, lambda: fn.layers.Dense(2, kernel_initializer=name), repr(name))


@pytest.mark.parametrize("make, fragments", [
    (lambda: initializers.VarianceScaling(scale=0.0), ["scale=0.0"]),
    (lambda: initializers.VarianceScaling(scale=-1.0), ["scale=-1.0"]),
    (lambda: initializers.VarianceScaling(mode="fan_mid"), ["mode='fan_mid'"]),
    (lambda: initializers.VarianceScaling(distribution="gaussian"), ["'gaussian'"]),
    (lambda: initializers.get({"class_name": "Nope"}), ["'Nope'"]),
    (lambda: initializers.get(3), ["3"]),
])
def test_bad_initializer_arguments(make, fragments):
    check_raises(ValueError, make, *fragments)

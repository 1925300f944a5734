"""Learning-rate schedules against float64 NumPy versions of Keras 3's formulas
(keras/src/optimizers/schedules/learning_rate_schedule.py), their engine specs, config round
trips, and their use as an optimizer's `learning_rate`."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import _core
from ferronet.optimizers import schedules

STEPS = np.array([0, 1, 2, 5, 9, 10, 11, 15, 20, 37, 100, 1000], np.float64)


def keras_exponential(step, lr, steps, rate, staircase):
    p = step / steps
    return lr * rate ** (np.floor(p) if staircase else p)


def keras_inverse_time(step, lr, steps, rate, staircase):
    p = step / steps
    return lr / (1 + rate * (np.floor(p) if staircase else p))


def keras_piecewise(step, boundaries, values):
    out = np.where(step <= boundaries[0], values[0], 0.0) + np.where(step > boundaries[-1], values[-1], 0.0)
    for low, high, v in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        out += np.where((step > low) & (step <= high), v, 0.0)
    return out


def keras_polynomial(step, lr, steps, end, power, cycle):
    if cycle:
        steps = steps * np.where(step == 0, 1.0, np.ceil(step / steps))
    else:
        step = np.minimum(step, steps)
    return (lr - end) * (1 - step / steps) ** power + end


def keras_cosine(step, lr, steps, alpha, target, warmup):
    def decay(s, start):
        return start * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * s / steps)) + alpha)
    if target is None:
        return decay(np.minimum(step, steps), lr)
    step = np.minimum(step, steps + warmup)
    return np.where(step < warmup, (target - lr) * step / max(warmup, 1) + lr, decay(step - warmup, target))


CASES = {
    "exponential": (lambda: schedules.ExponentialDecay(0.1, 10, 0.96), lambda s: keras_exponential(s, 0.1, 10, 0.96, False)),
    "exponential_staircase": (lambda: schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True), lambda s: keras_exponential(s, 0.1, 10, 0.5, True)),
    "inverse_time": (lambda: schedules.InverseTimeDecay(0.1, 3, 0.5), lambda s: keras_inverse_time(s, 0.1, 3, 0.5, False)),
    "inverse_time_staircase": (lambda: schedules.InverseTimeDecay(0.1, 3, 0.5, staircase=True), lambda s: keras_inverse_time(s, 0.1, 3, 0.5, True)),
    "piecewise": (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), lambda s: keras_piecewise(s, [10, 20], [1.0, 0.5, 0.1])),
    "piecewise_one_boundary": (lambda: schedules.PiecewiseConstantDecay([5], [0.3, 0.2]), lambda s: keras_piecewise(s, [5], [0.3, 0.2])),
    "polynomial": (lambda: schedules.PolynomialDecay(0.1, 20), lambda s: keras_polynomial(s, 0.1, 20, 0.0001, 1.0, False)),
    "polynomial_power_cycle": (lambda: schedules.PolynomialDecay(0.1, 7, 0.01, power=0.5, cycle=True), lambda s: keras_polynomial(s, 0.1, 7, 0.01, 0.5, True)),
    "cosine": (lambda: schedules.CosineDecay(0.1, 20), lambda s: keras_cosine(s, 0.1, 20, 0.0, None, 0)),
    "cosine_alpha_ignores_warmup_steps": (lambda: schedules.CosineDecay(0.1, 20, alpha=0.1, warmup_steps=5), lambda s: keras_cosine(s, 0.1, 20, 0.1, None, 0)),
    "cosine_warmup": (lambda: schedules.CosineDecay(0.0, 20, alpha=0.05, warmup_target=0.2, warmup_steps=10), lambda s: keras_cosine(s, 0.0, 20, 0.05, 0.2, 10)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_keras_formula(case):
    make, reference = CASES[case]
    schedule = make()
    got = [schedule(int(s)) for s in STEPS]
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, reference(STEPS), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_config_round_trip(case):
    schedule = CASES[case][0]()
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    again = schedules.deserialize(schedules.serialize(schedule))
    assert type(again) is type(schedule) and [again(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_schedule_engine_specs():
    assert schedules.ExponentialDecay(0.1, 10, 0.96, staircase=True)._engine_spec() == {
        "kind": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 10.0, "decay_rate": 0.96, "staircase": True}
    assert schedules.InverseTimeDecay(0.1, 3, 0.5)._engine_spec() == {
        "kind": "inverse_time_decay", "initial_learning_rate": 0.1, "decay_steps": 3.0, "decay_rate": 0.5, "staircase": False}
    assert schedules.PiecewiseConstantDecay([10, 20], [1, 0.5, 0.1])._engine_spec() == {
        "kind": "piecewise_constant_decay", "boundaries": [10.0, 20.0], "values": [1.0, 0.5, 0.1]}
    assert schedules.PolynomialDecay(0.1, 7, 0.01, power=0.5, cycle=True)._engine_spec() == {
        "kind": "polynomial_decay", "initial_learning_rate": 0.1, "decay_steps": 7.0, "end_learning_rate": 0.01, "power": 0.5, "cycle": True}
    assert schedules.CosineDecay(0.0, 20, alpha=0.05, warmup_target=0.2, warmup_steps=10)._engine_spec() == {
        "kind": "cosine_decay", "initial_learning_rate": 0.0, "decay_steps": 20.0, "alpha": 0.05, "warmup_target": 0.2, "warmup_steps": 10.0}
    # no warmup_target: no warmup at all in Keras, whatever warmup_steps says
    assert schedules.CosineDecay(0.1, 20, warmup_steps=5)._engine_spec() == {
        "kind": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 20.0, "alpha": 0.0, "warmup_target": 0.1, "warmup_steps": 0.0}


def test_custom_schedule_base_class():
    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.1 / 2 ** step

    assert Halving()(2) == 0.025
    with pytest.raises(NotImplementedError, match="must override `get_config\\(\\)`"):
        Halving().get_config()
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), "expected decay_steps > 0, got decay_steps=0"),
    (lambda: schedules.InverseTimeDecay(0.1, -5, 0.9), "expected decay_steps > 0, got decay_steps=-5"),
    (lambda: schedules.PolynomialDecay(0.1, 0), "expected decay_steps > 0, got decay_steps=0"),
    (lambda: schedules.CosineDecay(0.1, 0), "expected decay_steps > 0, got decay_steps=0"),
    (lambda: schedules.ExponentialDecay("0.1", 10, 0.9), "expected initial_learning_rate to be a finite number, got initial_learning_rate='0.1'"),
    (lambda: schedules.ExponentialDecay(0.1, 10, float("nan")), "expected decay_rate to be a finite number"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1), "expected warmup_steps >= 0, got warmup_steps=-1"),
    (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), "The length of boundaries should be 1 less than the length of values. Received: boundaries=\\[10, 20\\] of length 2, and values=\\[1.0, 0.5\\] of length 2."),
    (lambda: schedules.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), "expected strictly increasing boundaries, got boundaries=\\[20, 10\\]"),
    (lambda: schedules.PiecewiseConstantDecay([10], [1.0, None]), "expected values\\[1\\] to be a finite number, got values\\[1\\]=None"),
    (lambda: schedules.deserialize({"class_name": "Nope"}), "expected a serialized schedule with class_name in"),
])
def test_schedule_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- as an optimizer's learning_rate ---------------------------------------------------------------

def test_optimizer_with_schedule_reads_and_serializes():
    schedule = schedules.PiecewiseConstantDecay([2], [0.5, 0.25])
    opt = fn.optimizers.Adam(schedule)
    assert opt.learning_rate == 0.5 and opt.lr == 0.5
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    clone = fn.optimizers.Adam.from_config(config)
    assert isinstance(clone._schedule, schedules.PiecewiseConstantDecay) and clone.learning_rate == 0.5


def test_optimizer_with_schedule_refuses_a_float_rate():
    opt = fn.optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="hence its learning rate is not settable"):
        opt.learning_rate = 0.01
    opt.learning_rate = schedules.ExponentialDecay(0.2, 10, 0.5)  # another schedule is fine before training
    assert opt.learning_rate == 0.2
    plain = fn.optimizers.SGD(0.1)
    plain.learning_rate = schedules.ExponentialDecay(0.3, 10, 0.5)
    assert plain.learning_rate == 0.3


def test_schedule_drives_engine_steps():
    # SGD with a constant gradient: w_k = w_0 - g * sum(lr(i) for i < k), lr read at `iterations`.
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    opt = fn.optimizers.SGD(schedule)
    w = fn.tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    g = fn.tensor(np.array([0.5, -1.0], np.float32))
    expected = np.array([1.0, -2.0])
    for step in range(5):
        assert opt.learning_rate == pytest.approx(schedule(step), rel=1e-6)
        opt.apply_gradients([(g, w)])
        expected -= schedule(step) * np.array([0.5, -1.0])
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert opt.iterations == 5


def test_schedule_in_fit_follows_iterations(data, make_model):
    x, y = data
    schedule = schedules.PolynomialDecay(0.05, decay_steps=8, end_learning_rate=0.0)
    model = make_model(fn.optimizers.SGD(schedule))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # 4 steps an epoch
    assert model.optimizer.iterations == 8 and model.optimizer.learning_rate == 0.0


def test_schedule_without_engine_support_fails_at_first_use(data, make_model, monkeypatch):
    # An engine built before schedules rejects the keyword: the optimizer is still made, and the
    # schedule fails with a clear NotImplementedError only when the engine object is needed.
    def old_engine(*args, **kwargs):
        if "schedule" in kwargs:
            raise TypeError("Optimizer.__new__() got an unexpected keyword argument 'schedule'")
        return real(*args, **kwargs)

    real = _core.Optimizer
    monkeypatch.setattr(_core, "Optimizer", old_engine)
    x, y = data
    model = make_model(fn.optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5)))
    assert model.optimizer.learning_rate == 0.1
    with pytest.raises(NotImplementedError, match="does not accept learning-rate schedules yet; pass a float learning_rate"):
        model.fit(x, y, epochs=1, verbose=0)
    make_model(fn.optimizers.SGD(0.1)).fit(x, y, epochs=1, verbose=0)  # floats still work

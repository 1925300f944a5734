"""Each misuse of the overfitting-control callbacks is a clear Python exception (Keras's messages)."""

import pytest

import ferronet as fn

from .scripted import FakeModel


@pytest.mark.parametrize("factor", [1.0, 2.5])
def test_reduce_lr_on_plateau_factor_at_least_one(factor):
    with pytest.raises(ValueError, match=f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"):
        fn.callbacks.ReduceLROnPlateau(factor=factor)


@pytest.mark.parametrize("value", [1, "0.1", None])
def test_learning_rate_scheduler_non_float(value):
    cb = fn.callbacks.LearningRateScheduler(lambda epoch, lr: value)
    cb.set_model(FakeModel())
    with pytest.raises(ValueError, match=f"The output of the `schedule` function should be a float. Got: {value}"):
        cb.on_epoch_begin(0)


def test_learning_rate_scheduler_in_fit_non_float(data, make_model):
    x, y = data
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[fn.callbacks.LearningRateScheduler(lambda epoch: 1)])


def test_learning_rate_scheduler_negative_rate():
    cb = fn.callbacks.LearningRateScheduler(lambda epoch, lr: -0.1)
    cb.set_model(FakeModel())
    with pytest.raises(ValueError, match="expected a finite learning_rate >= 0, got learning_rate=-0.1"):
        cb.on_epoch_begin(0)


def test_reduce_lr_on_plateau_unknown_mode_falls_back_to_auto():
    with pytest.warns(UserWarning, match="ReduceLROnPlateau mode 'up' is unknown, fallback to auto mode."):
        assert fn.callbacks.ReduceLROnPlateau(mode="up").mode == "auto"

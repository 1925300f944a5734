"""ReduceLROnPlateau and LearningRateScheduler change the optimizer's rate as Keras 3 does and log
it as `learning_rate` (in History and the progress line)."""

import numpy as np
import pytest

import ferronet as fn

from .scripted import FakeModel, ScriptedLogs

F32 = dict(rtol=1e-7)  # the engine keeps the rate in float32


def f32(values):
    return [float(np.float32(v)) for v in values]


def test_reduce_lr_on_plateau_reduces_and_logs(data, make_model, capsys):
    x, y = data
    model = make_model(fn.optimizers.SGD(0.1))
    reduce = fn.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0, validation_split=0.25,
                        callbacks=[ScriptedLogs([1.0, 1.0, 1.0, 1.0]), reduce])
    # logged: the rate each epoch trained with (read before that epoch's reduction)
    np.testing.assert_allclose(history.history["learning_rate"], f32([0.1, 0.1, 0.05, 0.025]), **F32)
    np.testing.assert_allclose(model.optimizer.learning_rate, 0.0125, **F32)
    assert list(history.history) == ["loss", "val_loss", "learning_rate"]
    out = capsys.readouterr().out
    assert out.startswith(f"\nEpoch 2: ReduceLROnPlateau reducing learning rate to {float(np.float32(0.1)) * 0.5}.\n")
    assert out.count("ReduceLROnPlateau reducing") == 3


def test_reduce_lr_on_plateau_shows_in_progress_line(data, make_model, capsys):
    x, y = data
    make_model(fn.optimizers.SGD(0.1)).fit(x, y, epochs=1, batch_size=8, verbose=2, callbacks=[fn.callbacks.ReduceLROnPlateau(monitor="loss")])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith(" - learning_rate: 0.1000")  # after the loop's sorted keys, as in Keras


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    model = FakeModel(0.1)
    reduce = fn.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, cooldown=2)
    reduce.set_model(model)
    reduce.on_train_begin()
    rates = []
    for epoch in range(6):
        logs = {"val_loss": 1.0}
        reduce.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    # reductions at epochs 1, 3 and 5 (epochs 2 and 4 are cooldown)
    np.testing.assert_allclose(rates, f32([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]), **F32)

    model = FakeModel(0.1)
    reduce = fn.callbacks.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05)
    reduce.set_model(model)
    reduce.on_train_begin()
    for epoch in range(4):
        reduce.on_epoch_end(epoch, {"val_loss": 1.0})
    np.testing.assert_allclose(model.optimizer.learning_rate, 0.05, **F32)


def test_reduce_lr_on_plateau_improvement_resets_wait():
    model = FakeModel(0.1)
    reduce = fn.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.05)
    reduce.set_model(model)
    reduce.on_train_begin()
    for epoch, loss in enumerate([1.0, 0.9, 0.88, 0.8, 0.79, 0.78]):
        reduce.on_epoch_end(epoch, {"val_loss": loss})
    # 0.88 and 0.79 are within min_delta; the second plateau (0.79, 0.78) reaches patience once
    np.testing.assert_allclose(model.optimizer.learning_rate, 0.05, **F32)


def test_reduce_lr_on_plateau_missing_monitor_warns():
    reduce = fn.callbacks.ReduceLROnPlateau()
    reduce.set_model(FakeModel())
    with pytest.warns(UserWarning, match="Learning rate reduction is conditioned on metric `val_loss` which is not available. Available metrics are: loss,learning_rate."):
        reduce.on_epoch_end(0, {"loss": 1.0})


def test_learning_rate_scheduler_sets_rate_each_epoch(data, make_model, capsys):
    x, y = data
    model = make_model(fn.optimizers.SGD(0.1))
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return 0.1 / (epoch + 1)

    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[fn.callbacks.LearningRateScheduler(schedule, verbose=1)])
    np.testing.assert_allclose(history.history["learning_rate"], f32([0.1, 0.05, 0.1 / 3]), **F32)
    np.testing.assert_allclose(seen, f32([0.1, 0.1, 0.05]), **F32)
    assert capsys.readouterr().out.splitlines()[1] == "Epoch 1: LearningRateScheduler setting learning rate to 0.1."


def test_learning_rate_scheduler_rate_reaches_the_engine(data, make_model):
    x, y = data
    model = make_model(fn.optimizers.SGD(0.1))
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[fn.callbacks.LearningRateScheduler(lambda epoch: 0.0)])
    assert [w.tobytes() for w in model.get_weights()] == [w.tobytes() for w in before]


def test_learning_rate_scheduler_one_argument_form():
    model = FakeModel(0.1)
    cb = fn.callbacks.LearningRateScheduler(lambda epoch: 0.5 ** epoch)
    cb.set_model(model)
    cb.on_epoch_begin(3)
    assert model.optimizer.learning_rate == pytest.approx(0.125)


def test_learning_rate_scheduler_refuses_a_schedule_driven_optimizer():
    model = FakeModel()
    model.optimizer = fn.optimizers.SGD(fn.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    cb = fn.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01)
    cb.set_model(model)
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule`"):
        cb.on_epoch_begin(0)

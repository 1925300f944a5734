"""EarlyStopping against Keras 3's semantics (keras-api.md section 4, Keras's early_stopping_test.py):
when it stops, what it restores, and each argument, on scripted monitor values."""

import operator

import pytest

import ferronet as fn

from .scripted import FakeModel, ScriptedLogs, WeightRecorder, drive


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_early_stopping_patience(patience):
    # Keras's test_early_stopping_patience: stops at epoch max(patience, 1) + 2.
    stopper = fn.callbacks.EarlyStopping(monitor="loss", patience=patience)
    drive(stopper, [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5], key="loss")
    assert stopper.stopped_epoch == max(patience, 1) + 2


def test_early_stopping_in_fit_stops_at_the_right_epoch(data, make_model, capsys):
    x, y = data
    stopper = fn.callbacks.EarlyStopping(patience=2, verbose=1)
    script = ScriptedLogs([1.0, 0.8, 0.9, 0.85, 0.95, 0.7])
    history = make_model().fit(x, y, epochs=6, batch_size=8, verbose=0, validation_split=0.25, callbacks=[script, stopper])
    assert history.epoch == [0, 1, 2, 3]
    assert history.history["val_loss"] == [1.0, 0.8, 0.9, 0.85]
    assert stopper.stopped_epoch == 3 and stopper.best == 0.8 and stopper.best_epoch == 1
    assert capsys.readouterr().out == "Epoch 4: early stopping\n"


def test_early_stopping_restores_the_best_epoch_exactly(data, make_model, capsys):
    x, y = data
    recorder = WeightRecorder()
    stopper = fn.callbacks.EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    model = make_model()
    model.fit(x, y, epochs=6, batch_size=8, verbose=0, validation_split=0.25,
              callbacks=[ScriptedLogs([1.0, 0.5, 0.9, 0.8, 0.7, 0.6]), recorder, stopper])
    assert len(recorder.weights) == 4
    final = model.get_weights()
    assert [w.tobytes() for w in final] == [w.tobytes() for w in recorder.weights[1]]
    assert [w.tobytes() for w in final] != [w.tobytes() for w in recorder.weights[-1]]
    assert capsys.readouterr().out == "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n"


def test_early_stopping_restores_even_without_stopping(data, make_model):
    # Keras 3 restores at train end whenever a best exists (Keras 2 only did when it stopped).
    x, y = data
    recorder = WeightRecorder()
    stopper = fn.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    model = make_model()
    model.fit(x, y, epochs=4, batch_size=8, verbose=0, validation_split=0.25,
              callbacks=[ScriptedLogs([1.0, 0.5, 0.9, 0.8]), recorder, stopper])
    assert stopper.stopped_epoch == 0
    assert [w.tobytes() for w in model.get_weights()] == [w.tobytes() for w in recorder.weights[1]]


def test_early_stopping_min_delta():
    stopper = fn.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.1, patience=1)
    assert drive(stopper, [1.0, 0.95, 0.92, 0.9]) == 2  # 0.95 is not 0.1 better than 1.0
    stopper = fn.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.01, patience=1)
    assert drive(stopper, [1.0, 0.95, 0.92, 0.9]) == 4


def test_early_stopping_baseline_and_restore():
    # Keras's test: no epoch beats the baseline, so it runs `patience` epochs and restores the best.
    stopper = fn.callbacks.EarlyStopping(patience=5, baseline=0.5, restore_best_weights=True)
    model = FakeModel()
    assert drive(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73], model=model) == 5
    assert model.weights == 2
    stopper = fn.callbacks.EarlyStopping(patience=2, baseline=0.85)
    assert drive(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73]) == 5  # best at epoch 2, stops 2 epochs later


def test_early_stopping_start_from_epoch():
    stopper = fn.callbacks.EarlyStopping(patience=0, start_from_epoch=2)
    assert drive(stopper, [1.0, 2.0, 3.0, 4.0, 5.0]) == 4  # epochs 0-1 ignored, 3 is the first non-improvement
    assert stopper.best == 3.0


@pytest.mark.parametrize("mode, monitor, expected", [
    ("max", "val_loss", operator.gt), ("min", "val_accuracy", operator.lt), ("auto", "val_loss", operator.lt),
    ("auto", "loss", operator.lt), ("auto", "acc", operator.gt), ("auto", "val_accuracy", operator.gt),
    ("auto", "val_mean_absolute_error", operator.lt), ("auto", "val_auc", operator.gt),
])
def test_early_stopping_mode(mode, monitor, expected):
    stopper = fn.callbacks.EarlyStopping(monitor=monitor, mode=mode)
    drive(stopper, [0.5], key=monitor)
    assert stopper.monitor_op is expected


def test_early_stopping_max_mode_counts_increases_as_improvement():
    stopper = fn.callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    assert drive(stopper, [0.5, 0.6, 0.7, 0.65, 0.6], key="val_accuracy") == 4


def test_early_stopping_unknown_direction_and_mode():
    with pytest.raises(ValueError, match="monitor=val_foo, but Keras isn't able to automatically determine"):
        drive(fn.callbacks.EarlyStopping(monitor="val_foo"), [1.0], key="val_foo")
    with pytest.warns(UserWarning, match="EarlyStopping mode 'sideways' is unknown, fallback to auto mode."):
        assert fn.callbacks.EarlyStopping(mode="sideways").mode == "auto"


def test_early_stopping_missing_monitor_warns(data, make_model):
    x, y = data
    stopper = fn.callbacks.EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_loss` which is not available. Available metrics are: loss,mae"):
        history = make_model(metrics=["mae"]).fit(x, y, epochs=2, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1]


def test_early_stopping_reuse_resets_best():
    # Keras issue #20256: a reused instance must not compare against the previous run's best.
    stopper = fn.callbacks.EarlyStopping(patience=1)
    drive(stopper, [0.1, 0.2, 0.3])
    assert drive(stopper, [5.0, 4.0, 3.0]) == 3 and stopper.best == 3.0


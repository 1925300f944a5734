"""TerminateOnNaN stops (or raises) on the first non-finite loss, checked after every batch."""

import math

import numpy as np
import pytest

import ferronet as fn
from ferronet.callbacks.callback import overrides_batch_hooks

from .scripted import FakeModel


def diverging_fit(make_model, data, callback, epochs=3):
    x, y = data
    model = make_model(fn.optimizers.SGD(1e30))
    return model, model.fit(x, y * 1e10, epochs=epochs, batch_size=4, verbose=0, callbacks=[callback])


def test_terminate_on_nan_wants_every_batch():
    assert overrides_batch_hooks(fn.callbacks.TerminateOnNaN(), "train")


def test_terminate_on_nan_stops_a_diverging_fit(make_model, data, capsys):
    model, history = diverging_fit(make_model, data, fn.callbacks.TerminateOnNaN())
    assert history.epoch == [0]
    assert not math.isfinite(history.history["loss"][0])
    assert model.stop_training
    out = capsys.readouterr().out
    assert out.startswith("Batch ") and out.endswith(": Invalid loss, terminating training\n") and out.count("\n") == 1


def test_terminate_on_nan_raise_error(make_model, data):
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch \d+\. Loss value: (nan|inf)"):
        diverging_fit(make_model, data, fn.callbacks.TerminateOnNaN(raise_error=True))


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_terminate_on_nan_scripted(loss, capsys):
    cb = fn.callbacks.TerminateOnNaN()
    cb.set_model(FakeModel())
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not cb.model.stop_training
    cb.on_train_batch_end(7, {"loss": loss})
    assert cb.model.stop_training
    assert capsys.readouterr().out == "Batch 7: Invalid loss, terminating training\n"


def test_terminate_on_nan_epoch_logs(capsys):
    cb = fn.callbacks.TerminateOnNaN()
    cb.set_model(FakeModel())
    cb.on_epoch_end(2, {"loss": float("nan")})
    assert cb.model.stop_training
    assert capsys.readouterr().out == "Epoch 2: Invalid loss, terminating training\n"
    cb.on_epoch_end(3, {"val_loss": float("nan")})  # only `loss` is watched, as in Keras

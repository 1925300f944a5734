"""GradientMonitor: per-layer gradient norms recorded during fit (checked against gradients taken
by hand with the autograd), the vanishing/exploding warnings, the plot, and gradient clipping
with every optimizer."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers as L

from ..helpers import rng


def data(n=16, features=6, seed=0):
    generator = rng(seed)
    return generator.standard_normal((n, features)).astype(np.float32), generator.standard_normal((n, 1)).astype(np.float32)


def small_model(activation="tanh"):
    fn.utils.set_random_seed(0)
    return fn.Sequential([fn.Input((6,)), L.Dense(5, activation=activation, name="first"), L.Dense(4, activation=activation, name="middle"),
                          L.Dense(1, name="last")])


def hand_norms(model, x, y):
    """Each layer's gradient norm of the mse loss at the current weights, by the autograd."""
    out = model(fn.tensor(x), training=True)
    loss = ((out - fn.tensor(y)) ** 2).mean()
    weights = [w for layer in model.layers for w in layer.trainable_weights]
    for w in weights:
        w.grad = None
    loss.backward()
    return {layer.name: float(np.sqrt(sum(np.sum(w.grad.numpy().astype(np.float64) ** 2) for w in layer.trainable_weights)))
            for layer in model.layers}


def test_norms_per_epoch_equal_the_gradients_of_the_first_step():
    x, y = data()
    model = small_model()
    model.compile(fn.optimizers.SGD(0.1), "mse")
    expected = hand_norms(model, x, y)
    for w in model.trainable_weights:
        w.grad = None
    history = model.fit(x, y, batch_size=len(x), epochs=3, shuffle=False, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    assert list(history.gradient_norms) == ["first", "middle", "last"]
    assert history.gradient_norm_steps == [(0, None), (1, None), (2, None)]
    for name, value in expected.items():
        assert len(history.gradient_norms[name]) == 3
        np.testing.assert_allclose(history.gradient_norms[name][0], value, rtol=1e-5)
    # Training moved the weights: the later epochs' norms differ.
    assert history.gradient_norms["last"][2] != history.gradient_norms["last"][0]


def test_norm_of_a_layer_is_the_mean_over_the_epochs_steps():
    x, y = data(n=8)
    model = small_model()
    model.compile(fn.optimizers.SGD(0.0), "mse")  # lr 0: every step sees the same weights
    per_weight = []
    for i in (0, 4):
        out = model(fn.tensor(x[i:i + 4]), training=True)
        ((out - fn.tensor(y[i:i + 4])) ** 2).mean().backward()
        per_weight.append([np.linalg.norm(w.grad.numpy()) for w in model.layers[0].trainable_weights])
        for w in model.trainable_weights:
            w.grad = None
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    mean_per_weight = np.mean(per_weight, axis=0)
    np.testing.assert_allclose(history.gradient_norms["first"][0], np.sqrt(np.sum(mean_per_weight ** 2)), rtol=1e-5)


def test_stale_gradients_from_a_manual_backward_are_not_added_in():
    x, y = data()
    model = small_model()
    model.compile(fn.optimizers.SGD(0.1), "mse")
    expected = hand_norms(model, x, y)  # leaves .grad set on every weight
    history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    np.testing.assert_allclose(history.gradient_norms["first"][0], expected["first"], rtol=1e-5)


def test_every_n_batches_records_within_epochs():
    x, y = data(n=32)
    model = small_model()
    model.compile(fn.optimizers.SGD(0.05), "mse")
    monitor = fn.callbacks.GradientMonitor(every_n_batches=2)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[monitor])
    assert history.gradient_norm_steps == [(e, b) for e in range(2) for b in (1, 3, 5, 7)]
    assert len(monitor.records) == 8 and all(len(r["norms"]) == 3 for r in monitor.records)


def test_layers_without_weights_are_left_out_and_recurrent_layers_are_in():
    x = rng(1).standard_normal((8, 5, 3)).astype(np.float32)
    y = rng(2).standard_normal((8, 1)).astype(np.float32)
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((5, 3)), L.LSTM(4, return_sequences=True, name="lstm"), L.Dropout(0.1), L.GRU(3, name="gru"),
                           L.Dense(1, name="out")])
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    assert list(history.gradient_norms) == ["lstm", "gru", "out"]
    assert all(v > 0 for values in history.gradient_norms.values() for v in values)


def test_deep_sigmoid_network_warns_vanishing_once(capsys):
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((8,)), *[L.Dense(16, activation="sigmoid") for _ in range(8)], L.Dense(1)])
    model.compile(fn.optimizers.SGD(0.1), "mse")
    x, y = rng(3).standard_normal((64, 8)).astype(np.float32), rng(4).standard_normal((64, 1)).astype(np.float32)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "GradientMonitor" in line]
    assert len(lines) == 1 and "vanishing gradients" in lines[0] and model.layers[0].name in lines[0]
    norms = history.gradient_norms
    first, last = norms[model.layers[0].name][0], norms[model.layers[-1].name][0]
    assert first / last < 1e-3


def test_relu_network_does_not_warn(capsys):
    model = small_model(activation="relu")
    model.compile(fn.optimizers.SGD(0.05), "mse")
    model.fit(*data(), epochs=2, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    assert "GradientMonitor" not in capsys.readouterr().err


def test_exploding_warning_and_verbose_zero(capsys):
    model = small_model()
    model.compile(fn.optimizers.SGD(0.01), "mse")
    model.fit(*data(), epochs=2, verbose=0, callbacks=[fn.callbacks.GradientMonitor(exploding_norm=1e-6)])
    err = capsys.readouterr().err
    assert err.count("exploding gradients") == 1
    model.fit(*data(), epochs=1, verbose=0, callbacks=[fn.callbacks.GradientMonitor(exploding_norm=1e-6, verbose=0)])
    assert "GradientMonitor" not in capsys.readouterr().err


def test_tracking_stops_after_fit():
    model = small_model()
    model.compile(fn.optimizers.SGD(0.01), "mse")
    model.fit(*data(), epochs=1, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    model.fit(*data(), epochs=1, verbose=0)
    assert model._engine().take_gradient_norms()[1] == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="every_n_batches"):
        fn.callbacks.GradientMonitor(every_n_batches=0)


def test_plot_gradient_norms(tmp_path):
    pytest.importorskip("matplotlib")
    model = small_model()
    model.compile(fn.optimizers.SGD(0.05), "mse")
    history = model.fit(*data(), epochs=2, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    path = tmp_path / "norms.png"
    fig = fn.plot.gradient_norms(history, path=path)
    assert path.stat().st_size > 0
    assert fig.axes[0].get_yscale() == "log"
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["first", "middle", "last"]


OPTIMIZERS = [fn.optimizers.SGD, fn.optimizers.Adam, fn.optimizers.AdamW, fn.optimizers.RMSprop, fn.optimizers.Adagrad]


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("clip", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_works_with_every_optimizer(cls, clip):
    """An optimizer with clipping given g equals the same optimizer without clipping given the
    clipped g, for two steps (so the slots see clipped gradients too)."""
    g = np.array([3.0, -4.0, 0.5], np.float32)
    norm = np.linalg.norm(g)
    clipped = {"clipnorm": g * 1.0 / norm, "global_clipnorm": g * 1.0 / norm, "clipvalue": np.clip(g, -1.0, 1.0)}[clip]
    a = fn.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    b = fn.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    with_clip, without = cls(0.1, **{clip: 1.0}), cls(0.1)
    for _ in range(2):
        with_clip.apply_gradients([(fn.tensor(g), a)])
        without.apply_gradients([(fn.tensor(clipped.astype(np.float32)), b)])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(a.numpy(), [1.0, 2.0, 3.0])

"""Whole models on the GPU: the same training as on the CPU (every optimizer, clipping, decay),
the same predictions, flat memory over many steps, few submits, state that saves and moves."""

import numpy as np
import pytest

import ferronet as fn
from gpu.parity import require_gpu
from helpers import BALANCED, assert_close


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = fn.datasets.digits.load_data()
    x = x.reshape(len(x), -1).astype(np.float32) / 16
    xt = xt.reshape(len(xt), -1).astype(np.float32) / 16
    return x, y, xt, yt


def mlp(device, seed=3):
    fn.utils.set_random_seed(seed)
    return fn.Sequential([fn.Input((64,)), fn.layers.Dense(32, activation="relu"), fn.layers.Dense(17, activation="tanh"), fn.layers.Dense(10, activation="softmax")], device=device)


OPTIMIZERS = {
    "sgd": lambda: fn.optimizers.SGD(0.1),
    "nesterov": lambda: fn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: fn.optimizers.Adam(0.01),
    "amsgrad_clipnorm": lambda: fn.optimizers.Adam(0.01, amsgrad=True, clipnorm=0.5),
    "adamw": lambda: fn.optimizers.AdamW(0.01, weight_decay=0.1),
    "rmsprop_centered_momentum": lambda: fn.optimizers.RMSprop(0.01, momentum=0.5, centered=True, clipvalue=0.1),
    "adagrad_global_clipnorm": lambda: fn.optimizers.Adagrad(0.1, global_clipnorm=1.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_matches_the_cpu(digits, name):
    require_gpu()
    x, y = digits[0][:256], digits[1][:256]
    results = {}
    before = fn.config.cpu_fallbacks()
    for device in ("cpu", "gpu"):
        m = mlp(device)
        m.compile(optimizer=OPTIMIZERS[name](), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        h = m.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        results[device] = (h.history, m.get_weights())
    assert fn.config.cpu_fallbacks() == before, "the training step fell back to the CPU"
    (hc, wc), (hg, wg) = results["cpu"], results["gpu"]
    np.testing.assert_allclose(hg["loss"], hc["loss"], rtol=2e-3)
    np.testing.assert_allclose(hg["accuracy"], hc["accuracy"], atol=1 / 128)
    for a, b in zip(wg, wc):
        assert_close(a, b, BALANCED, f"{name} weights")


@pytest.mark.parametrize("loss,targets", [("mse", "onehot"), ("categorical_crossentropy", "onehot"), ("binary_crossentropy", "onehot"), ("huber", "onehot"), ("mae", "onehot")])
def test_every_loss_trains_like_the_cpu(digits, loss, targets):
    require_gpu()
    x, y = digits[0][:128], digits[1][:128]
    t = np.eye(10, dtype=np.float32)[y]
    out = {}
    for device in ("cpu", "gpu"):
        m = mlp(device)
        m.compile(optimizer="adam", loss=loss)
        out[device] = m.fit(x, t, batch_size=32, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(out["gpu"], out["cpu"], rtol=2e-3)


def test_fit_on_digits_reaches_the_cpu_accuracy_and_predict_agrees(digits):
    require_gpu()
    x, y, xt, yt = digits
    scores, preds = {}, {}
    for device in ("cpu", "gpu"):
        m = mlp(device)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, batch_size=32, epochs=8, verbose=0)
        scores[device] = m.evaluate(xt, yt, verbose=0)[1]
        preds[device] = m.predict(xt, verbose=0)
    assert scores["gpu"] >= 0.9
    assert abs(scores["gpu"] - scores["cpu"]) <= 0.02
    assert (preds["gpu"].argmax(1) == preds["cpu"].argmax(1)).mean() >= 0.97


def test_memory_stays_flat_over_2000_steps():
    require_gpu()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 16)).astype(np.float32)
    y = rng.integers(0, 4, size=2000)
    m = fn.Sequential([fn.Input((16,)), fn.layers.Dense(33, activation="relu"), fn.layers.Dense(4, activation="softmax")], device="gpu")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x[:600], y[:600], batch_size=1, epochs=1, verbose=0)  # warm the pool (past 256 pending steps)
    before = fn.config.memory_stats()
    m.fit(x, y, batch_size=1, epochs=1, verbose=0)  # 2,000 steps
    after = fn.config.memory_stats()
    assert after["allocated_bytes"] == before["allocated_bytes"], (before, after)
    assert after["allocations"] == before["allocations"]


def test_an_epoch_is_few_submits_not_one_per_step(digits):
    require_gpu()
    x, y = digits[0][:512], digits[1][:512]
    m = mlp("gpu")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = fn.config.memory_stats()["submits"]
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 64 steps
    submitted = fn.config.memory_stats()["submits"] - before
    assert submitted <= 4, submitted


def test_callbacks_that_want_every_batch_still_see_every_loss(digits):
    require_gpu()
    x, y = digits[0][:64], digits[1][:64]
    seen = []
    cb = fn.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    m = mlp("gpu")
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    assert len(seen) == 4 and all(np.isfinite(seen))


def test_optimizer_state_saves_from_the_gpu_and_resumes_on_the_cpu(digits, tmp_path):
    require_gpu()
    x, y = digits[0][:128], digits[1][:128]
    resumed = {}
    for device in ("cpu", "gpu"):
        m = mlp(device)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        path = str(tmp_path / f"{device}.keras")
        m.save(path)
        loaded = fn.saving.load_model(path)
        assert loaded.device == "cpu"
        loaded.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        resumed[device] = loaded.get_weights()
    for a, b in zip(resumed["gpu"], resumed["cpu"]):
        assert_close(a, b, BALANCED, "resumed from a GPU save vs a CPU save")


def test_a_model_moves_between_devices_and_keeps_training(digits):
    require_gpu()
    x, y = digits[0][:128], digits[1][:128]
    ref = mlp("cpu")
    ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ref.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    m = mlp("cpu")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    m.compile(optimizer=m.optimizer, loss="sparse_categorical_crossentropy", device="gpu")
    m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert m.weights[0].device == "gpu"
    for a, b in zip(m.get_weights(), ref.get_weights()):
        assert_close(a, b, BALANCED, "moved mid-training")


def test_set_weights_and_call_on_the_gpu(digits):
    require_gpu()
    cpu, gpu = mlp("cpu"), mlp("gpu", seed=9)
    gpu.set_weights(cpu.get_weights())
    x = digits[2][:5]
    out = gpu(x)
    assert out.device == "gpu"
    assert_close(out.numpy(), cpu(x).numpy(), BALANCED, "model(x)")

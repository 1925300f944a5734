"""The Keras Sequential workflow: a Keras-shaped script as written, Keras weight layouts, the
summary table, determinism, callbacks, progress output and *_on_batch."""

import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import ferronet as fn


def digits_data():
    (x_train, y_train), (x_test, y_test) = fn.datasets.digits.load_data()
    return (x_train.reshape(-1, 64).astype("float32") / 16, y_train), (x_test.reshape(-1, 64).astype("float32") / 16, y_test)


KERAS_SCRIPT = textwrap.dedent('''
    import numpy as np
    import ferronet as keras
    from ferronet import layers

    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16
    x_test = x_test.reshape(-1, 64).astype("float32") / 16

    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=2)
    score = model.evaluate(x_test, y_test, verbose=0)
    predictions = model.predict(x_test[:5])
    assert predictions.shape == (5, 10)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    print("test accuracy", score[1])
''')


def test_keras_shaped_script_runs_as_written():
    out = subprocess.run([sys.executable, "-c", KERAS_SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", out.stdout).group(1))
    assert accuracy > 0.9
    assert "Epoch 15/15" in out.stdout
    assert re.search(r"^41/41 - \d+s - \d+(us|ms)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$", out.stdout, re.M)


@pytest.mark.parametrize("model, target", [("dense", 0.95), ("convnet", 0.97)])
def test_demo_reaches_its_target_on_digits(model, target):
    args = [sys.executable, "-m", "ferronet.demo"] + ([] if model == "convnet" else ["--model", model])
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("conv2d (Conv2D)" in out.stdout) == (model == "convnet")  # the default is the convnet
    assert float(re.search(r"test accuracy ([0-9.]+)", out.stdout).group(1)) >= target


def test_set_weights_with_keras_layout_gives_numpy_predictions():
    model = fn.Sequential([fn.Input((3,)), fn.layers.Dense(4, activation="tanh"), fn.layers.Dense(2, activation="softmax")])
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)]
    model.set_weights([w.astype(np.float32) for w in weights])
    x = rng.normal(size=(5, 3)).astype(np.float32)
    h = np.tanh(x.astype(np.float64) @ weights[0] + weights[1])
    z = h @ weights[2] + weights[3]
    expected = np.exp(z - z.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 2), (2,)]


KERAS_SUMMARY = """\
Model: "seq"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 8)              │            40 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 3)              │            27 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 67 (268.00 B)
 Trainable params: 67 (268.00 B)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_matches_keras_format():
    fn.utils.clear_session()
    model = fn.Sequential([fn.Input((4,)), fn.layers.Dense(8), fn.layers.Dense(3)], name="seq")
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) == KERAS_SUMMARY
    # After training, Keras adds the optimizer's variables (Adam: m and v per weight, + 2).
    model.compile("adam", "mse")
    model.fit(np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32), verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0].splitlines()[-1] == " Optimizer params: 136 (544.00 B)"
    assert " Total params: 203 (812.00 B)" in lines[0]


def test_summary_wraps_long_names_and_shows_unbuilt():
    model = fn.Sequential([fn.layers.Dense(3, name="a_rather_long_layer_name_for_wrapping")])
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "│ ?" in text and "0 (unbuilt)" in text
    assert all(len(l) == 76 for l in text.splitlines()[1:-3])


def train_once(seed):
    fn.utils.set_random_seed(seed)
    (x, y), _ = digits_data()
    model = fn.Sequential([fn.Input((64,)), fn.layers.Dense(32, activation="relu"), fn.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, verbose=0)
    return model.get_weights(), history.history


def test_same_seed_gives_identical_weights_bit_for_bit():
    w1, h1 = train_once(7)
    w2, h2 = train_once(7)
    for a, b in zip(w1, w2):
        assert a.tobytes() == b.tobytes()
    assert h1 == h2
    w3, _ = train_once(8)
    assert any(a.tobytes() != b.tobytes() for a, b in zip(w1, w3))


def test_fit_logs_running_averages_like_keras():
    # keras-api.md 1.5: 10 samples, batch 4, zero-weight model, mse -> loss = mean over all samples.
    model = fn.Sequential([fn.Input((1,)), fn.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    x = np.zeros((10, 1), np.float32)
    y = np.arange(10, dtype=np.float32).reshape(10, 1)
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"] == [pytest.approx(28.5)]
    assert history.params == {"verbose": 0, "epochs": 1, "steps": 3}
    assert history.epoch == [0]


def test_validation_split_takes_the_last_samples():
    model = fn.Sequential([fn.Input((1,)), fn.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    x = np.zeros((10, 1), np.float32)
    y = np.arange(10, dtype=np.float32).reshape(10, 1)
    h = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    assert h.history["val_loss"] == [pytest.approx((64 + 81) / 2)]
    assert h.history["loss"] == [pytest.approx(np.mean(np.arange(8.0) ** 2))]


def test_evaluate_return_forms_and_on_batch():
    (x, y), _ = digits_data()
    model = fn.Sequential([fn.Input((64,)), fn.layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["accuracy", "loss"] and logs["loss"] == pytest.approx(loss) and logs["accuracy"] == pytest.approx(acc)
    before = model.test_on_batch(x[:32], y[:32])
    trained = model.train_on_batch(x[:32], y[:32], return_dict=True)
    assert trained["loss"] == pytest.approx(before[0], rel=1e-5)  # loss of the forward pass before the step
    after = model.test_on_batch(x[:32], y[:32])
    assert after[0] < before[0]
    assert model.predict_on_batch(x[:3]).shape == (3, 10)
    model_only_loss = fn.Sequential([fn.Input((64,)), fn.layers.Dense(10, activation="softmax")])
    model_only_loss.compile("sgd", "sparse_categorical_crossentropy")
    assert isinstance(model_only_loss.evaluate(x, y, verbose=0), float)


def test_model_structure_methods():
    fn.utils.clear_session()
    model = fn.Sequential(name="m")
    model.add(fn.layers.Dense(4, input_shape=(3,)))
    model.add(fn.layers.ReLU())
    model.add(fn.layers.Dense(2))
    assert [l.name for l in model.layers] == ["dense", "re_lu", "dense_1"]
    assert model.built and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert model.get_layer("dense_1") is model.layers[2]
    popped = model.pop()
    assert popped.name == "dense_1" and model.output_shape == (None, 4)
    assert len(model.weights) == 2 and len(model.trainable_weights) == 2
    lazy = fn.Sequential([fn.layers.Dense(2)])
    assert not lazy.built
    lazy.build((None, 5))
    assert lazy.layers[0].kernel.shape == (5, 2)
    assert lazy(np.ones((1, 5), np.float32)).shape == (1, 2)


def test_activation_layers_follow_keras():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0, 8.0]], np.float32)
    np.testing.assert_allclose(fn.layers.LeakyReLU()(x).numpy(), np.where(x >= 0, x, 0.3 * x), rtol=1e-6)
    np.testing.assert_allclose(fn.layers.ELU(alpha=0.5)(x).numpy(), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), rtol=1e-6)
    np.testing.assert_allclose(fn.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)(x).numpy(),
                               np.where(x >= 6, 6, np.where(x >= 0.5, x, 0.1 * (x - 0.5))), rtol=1e-6)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(fn.layers.Softmax()(x).numpy(), e / e.sum(), rtol=1e-5)
    np.testing.assert_allclose(fn.layers.Activation("selu")(x).numpy(), fn.activations.selu(x).numpy())


def test_callbacks_hooks_and_stop_training():
    events = []

    class Recorder(fn.callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin {epoch}")
        def on_train_batch_end(self, batch, logs=None):
            events.append(f"batch_end {batch}")
            assert set(logs) == {"loss"}
        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch}")
            if epoch == 1:
                self.model.stop_training = True
        def on_train_end(self, logs=None): events.append("train_end")

    model = fn.Sequential([fn.Input((2,)), fn.layers.Dense(1)])
    model.compile("sgd", "mse")
    h = model.fit(np.zeros((6, 2), np.float32), np.zeros((6, 1), np.float32), batch_size=4, epochs=5, callbacks=[Recorder()], verbose=0)
    assert events == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1", "epoch_end 0",
                      "epoch_begin 1", "batch_end 0", "batch_end 1", "epoch_end 1", "train_end"]
    assert h.epoch == [0, 1]


def test_stop_training_from_a_batch_hook_stops_within_the_epoch():
    class StopAtBatch(fn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.seen = batch
            if batch == 2:
                self.model.stop_training = True

    cb = StopAtBatch()
    model = fn.Sequential([fn.Input((2,)), fn.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((40, 2), np.float32), np.zeros((40, 1), np.float32), batch_size=4, epochs=3, callbacks=[cb], verbose=0)
    assert cb.seen == 2


def test_sample_and_class_weights_change_the_loss():
    x = np.zeros((4, 1), np.float32)
    y = np.array([0, 1, 1, 1])
    model = fn.Sequential([fn.Input((1,)), fn.layers.Dense(2, activation="softmax", kernel_initializer="zeros")])
    model.compile(fn.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    plain = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
    assert plain == pytest.approx(np.log(2), rel=1e-5)
    weighted = model.fit(x, y, epochs=1, verbose=0, class_weight={0: 3.0, 1: 1.0}).history["loss"][0]
    assert weighted == pytest.approx(np.log(2) * (3 + 1 + 1 + 1) / 4, rel=1e-5)
    sw = model.fit(x, y, epochs=1, verbose=0, sample_weight=np.array([0, 0, 0, 2.0])).history["loss"][0]
    assert sw == pytest.approx(np.log(2) * 2 / 4, rel=1e-5)


def test_progress_output_formats(capsys):
    model = fn.Sequential([fn.Input((2,)), fn.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, batch_size=4, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Epoch 1/2"
    assert re.match(r"^2/2 - \d+s - \d+(us|ms)/step - loss: .* - mae: ", out.splitlines()[1])
    model.fit(x, y, batch_size=4, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "Epoch" not in out  # not a terminal: one final line, no redraws
    assert re.match(r"^2/2 ━{20} \d+s \d+(us|ms)/step - loss: ", out)


def test_ctrl_c_stops_fit_and_leaves_the_model_usable():
    (x, y), _ = digits_data()
    x = np.repeat(x, 20, axis=0)
    y = np.repeat(y, 20)
    model = fn.Sequential([fn.Input((64,)), fn.layers.Dense(256, activation="relu"), fn.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    timer = threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=32, epochs=1000, verbose=0)
    timer.cancel()
    assert model.predict(x[:4], verbose=0).shape == (4, 10)
    assert model.evaluate(x[:64], y[:64], verbose=0) > 0


def test_to_categorical():
    np.testing.assert_array_equal(fn.utils.to_categorical([1, 0, 2]), np.eye(3)[[1, 0, 2]])
    assert fn.utils.to_categorical(np.array([[1], [2]]), num_classes=4).shape == (2, 4)


def test_digits_dataset():
    (x_train, y_train), (x_test, y_test) = fn.datasets.digits.load_data()
    assert x_train.shape == (1437, 8, 8) and x_test.shape == (360, 8, 8)
    assert x_train.dtype == np.uint8 and x_train.max() == 16
    assert sorted(np.unique(np.concatenate([y_train, y_test]))) == list(range(10))

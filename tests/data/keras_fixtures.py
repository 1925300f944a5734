"""Keras fixtures for ferronet's interchange tests, and the check of ferronet-written files.

Run with real Keras 3 (any backend; torch shown):

    KERAS_BACKEND=torch python tests/data/keras_fixtures.py write tests/data/keras
        Builds one small model per case below, fills every weight (BatchNormalization's moving
        statistics included) with seeded random values, saves `<case>.keras` and `<case>.npz`
        (inputs `x`, Keras's predictions `y`). The files are committed; tests/persistence loads
        them in ferronet and compares predictions to 1e-5.

    KERAS_BACKEND=torch python tests/data/keras_fixtures.py check DIR
        Loads every `DIR/*.keras` that ferronet wrote (tests/persistence/test_keras_export.py
        writes them, with `<name>.npz` holding ferronet's inputs and predictions), predicts in
        Keras and compares to 1e-5. Prints one line per file; exits 1 if any file fails.

The file needs only Keras and NumPy; it never imports ferronet.
"""

import glob
import os
import sys

import numpy as np

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def dense(keras, L):
    m = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"), L.Dropout(0.3), L.Dense(4, activation="softmax")], name="dense_model")
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m, _floats((5, 8))


@case
def conv2d(keras, L):
    m = keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                          L.BatchNormalization(), L.Conv2D(3, (2, 2), strides=(1, 1)), L.AveragePooling2D(2, padding="same"),
                          L.Flatten(), L.Dense(3)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")
    return m, _floats((3, 8, 8, 2))


@case
def conv_variants(keras, L):
    m = keras.Sequential([keras.Input((9, 9, 3)), L.ZeroPadding2D(1), L.DepthwiseConv2D(3, depth_multiplier=2),
                          L.SeparableConv2D(4, 3, activation="tanh"), L.Conv2DTranspose(2, 3, strides=2),
                          L.Cropping2D(((1, 2), (2, 1))), L.UpSampling2D(2), L.GlobalMaxPooling2D(), L.Dense(2)])
    return m, _floats((2, 9, 9, 3))


@case
def sequence1d(keras, L):
    m = keras.Sequential([keras.Input((12, 3)), L.Conv1D(4, 3, padding="causal"), L.MaxPooling1D(2), L.AveragePooling1D(2),
                          L.LayerNormalization(), L.GlobalAveragePooling1D(), L.Dense(2)])
    return m, _floats((3, 12, 3))


@case
def activations(keras, L):
    m = keras.Sequential([keras.Input((6,)), L.Dense(6), L.ReLU(), L.Dense(6), L.LeakyReLU(negative_slope=0.1), L.Dense(6), L.ELU(),
                          L.Dense(6), L.Activation("tanh"), L.Reshape((2, 3)), L.Softmax(), L.Flatten(), L.GaussianNoise(0.1),
                          L.GaussianDropout(0.1), L.ActivityRegularization(l2=0.01), L.Dense(2, activation="sigmoid")])
    m.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return m, _floats((4, 6))


@case
def simple_rnn(keras, L):
    m = keras.Sequential([keras.Input((5, 3)), L.SimpleRNN(4, return_sequences=True), L.SimpleRNN(3), L.Dense(2)])
    return m, _floats((3, 5, 3))


@case
def lstm(keras, L):
    m = keras.Sequential([keras.Input((6,)), L.Embedding(10, 4), L.LSTM(5), L.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    return m, _tokens((3, 6), 10)


@case
def gru(keras, L):
    m = keras.Sequential([keras.Input((5, 3)), L.GRU(4, return_sequences=True), L.GRU(3), L.Dense(2)])
    return m, _floats((3, 5, 3))


@case
def bidirectional(keras, L):
    m = keras.Sequential([keras.Input((5, 3)), L.Bidirectional(L.LSTM(3, return_sequences=True)), L.Bidirectional(L.GRU(2), merge_mode="sum"),
                          L.Dense(2)])
    return m, _floats((3, 5, 3))


@case
def rnn_cells(keras, L):
    m = keras.Sequential([keras.Input((5, 3)), L.RNN(L.LSTMCell(4), return_sequences=True), L.RNN(L.GRUCell(3, reset_after=False)),
                          L.Dense(2)])
    return m, _floats((3, 5, 3))


@case
def embedding(keras, L):
    m = keras.Sequential([keras.Input((4,)), L.Embedding(12, 3), L.Flatten(), L.Dense(2)])
    return m, _tokens((5, 4), 12)


def _floats(shape):
    return np.random.default_rng(1).normal(size=shape).astype("float32")


def _tokens(shape, vocabulary):
    # Whole numbers stored as float32: both libraries take float token ids.
    return np.random.default_rng(2).integers(0, vocabulary, size=shape).astype("float32")


def _randomize(model, seed):
    """Every weight random (variances positive), so a mis-ordered weight changes the output."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(scale=0.5, size=tuple(w.shape)).astype("float32")
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value)


def write(folder):
    import keras

    os.makedirs(folder, exist_ok=True)
    for i, (name, build) in enumerate(sorted(CASES.items())):
        keras.utils.set_random_seed(i)
        model, x = build(keras, keras.layers)
        _randomize(model, i)
        y = np.asarray(model.predict(x, verbose=0))
        model.save(os.path.join(folder, f"{name}.keras"))
        np.savez(os.path.join(folder, f"{name}.npz"), x=x, y=y)
        print(f"{name}: {len(model.layers)} layers, {model.count_params()} params, output {y.shape}")


def check(folder):
    import keras

    files = sorted(glob.glob(os.path.join(folder, "*.keras")))
    if not files:
        print(f"no .keras files in {folder}")
        return 1
    failures = 0
    for path in files:
        name = os.path.splitext(path)[0]
        try:
            expected = np.load(name + ".npz")
            model = keras.saving.load_model(path)
            y = np.asarray(model.predict(expected["x"], verbose=0))
            diff = float(np.max(np.abs(y - expected["y"]))) if y.shape == expected["y"].shape else float("inf")
            ok = diff <= 1e-5
            compiled = "compiled" if getattr(model, "optimizer", None) is not None and model.compiled else "not compiled"
            print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(path)}: max |keras - ferronet| = {diff:.2e} ({compiled})")
        except Exception as e:  # report every file, then fail
            ok = False
            print(f"FAIL {os.path.basename(path)}: {type(e).__name__}: {e}")
        failures += not ok
    print(f"{len(files) - failures}/{len(files)} ferronet-written files load in Keras {keras.__version__} and predict the same")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else check(sys.argv[2]))

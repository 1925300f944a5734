"""Shared pieces of the persistence tests: one small model per layer class, and data for it."""

import numpy as np

import ferronet as fn

L = fn.layers
DATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "data"


def _floats(shape):
    return np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)


def _tokens(shape, vocabulary):
    return np.random.default_rng(0).integers(0, vocabulary, size=(4, *shape)).astype(np.float32)


def _dense_then(layer):
    return lambda: ([L.Dense(4), layer()], (6,))


# class name -> () -> ([layers], input shape without the batch axis); data from `inputs_for`.
LAYER_MODELS = {
    "Dense": lambda: ([L.Dense(3, activation="relu", kernel_regularizer="l2")], (6,)),
    "Activation": _dense_then(lambda: L.Activation("tanh")),
    "ActivityRegularization": _dense_then(lambda: L.ActivityRegularization(l1=0.01)),
    "AveragePooling1D": lambda: ([L.AveragePooling1D(2)], (8, 3)),
    "AveragePooling2D": lambda: ([L.AveragePooling2D(2, padding="same")], (5, 5, 2)),
    "BatchNormalization": _dense_then(lambda: L.BatchNormalization(momentum=0.9)),
    "Conv1D": lambda: ([L.Conv1D(4, 3, padding="causal", activation="relu")], (9, 3)),
    "Conv2D": lambda: ([L.Conv2D(3, 3, strides=2, padding="same")], (6, 6, 2)),
    "Conv2DTranspose": lambda: ([L.Conv2DTranspose(3, 3, strides=2, padding="same")], (4, 4, 2)),
    "Cropping2D": lambda: ([L.Cropping2D(1)], (6, 6, 2)),
    "DepthwiseConv2D": lambda: ([L.DepthwiseConv2D(3, depth_multiplier=2)], (6, 6, 2)),
    "Dropout": _dense_then(lambda: L.Dropout(0.5, seed=1)),
    "ELU": _dense_then(lambda: L.ELU(alpha=0.5)),
    "Flatten": lambda: ([L.Flatten()], (3, 4)),
    "GaussianDropout": _dense_then(lambda: L.GaussianDropout(0.2)),
    "GaussianNoise": _dense_then(lambda: L.GaussianNoise(0.1)),
    "GlobalAveragePooling1D": lambda: ([L.GlobalAveragePooling1D()], (7, 3)),
    "GlobalAveragePooling2D": lambda: ([L.GlobalAveragePooling2D()], (5, 5, 2)),
    "GlobalMaxPooling1D": lambda: ([L.GlobalMaxPooling1D()], (7, 3)),
    "GlobalMaxPooling2D": lambda: ([L.GlobalMaxPooling2D(keepdims=True)], (5, 5, 2)),
    "LayerNormalization": _dense_then(lambda: L.LayerNormalization()),
    "LeakyReLU": _dense_then(lambda: L.LeakyReLU(negative_slope=0.1)),
    "MaxPooling1D": lambda: ([L.MaxPooling1D(2)], (8, 3)),
    "MaxPooling2D": lambda: ([L.MaxPooling2D(2)], (6, 6, 2)),
    "ReLU": _dense_then(lambda: L.ReLU(max_value=1.0)),
    "Reshape": lambda: ([L.Reshape((2, 3))], (6,)),
    "SeparableConv2D": lambda: ([L.SeparableConv2D(4, 3)], (6, 6, 2)),
    "Softmax": _dense_then(lambda: L.Softmax()),
    "UpSampling2D": lambda: ([L.UpSampling2D(2)], (3, 3, 2)),
    "ZeroPadding2D": lambda: ([L.ZeroPadding2D(1)], (3, 3, 2)),
    # The recurrent family (Keras's constructors), covered once ferronet has the classes.
    "SimpleRNN": lambda: ([L.SimpleRNN(4, return_sequences=True)], (5, 3)),
    "LSTM": lambda: ([L.LSTM(4)], (5, 3)),
    "GRU": lambda: ([L.GRU(4)], (5, 3)),
    "RNN": lambda: ([L.RNN(L.GRUCell(4, reset_after=False), return_sequences=True)], (5, 3)),
    "Bidirectional": lambda: ([L.Bidirectional(L.LSTM(3, return_sequences=True))], (5, 3)),
    "Embedding": lambda: ([L.Embedding(10, 4)], (5,)),
    "Masking": lambda: ([L.Masking(0.0), L.LSTM(3)], (5, 3)),
    "TimeDistributed": lambda: ([L.TimeDistributed(L.Dense(3))], (4, 5)),
}
TOKEN_INPUTS = {"Embedding": 10}


def available_layer_models():
    return sorted(name for name in LAYER_MODELS if hasattr(L, name))


def build(name, compile=True):
    """The test model for layer class `name`, trained one epoch (non-trivial weights, moving
    statistics and optimizer state), with its inputs."""
    layers, shape = LAYER_MODELS[name]()
    model = fn.Sequential([fn.Input(shape), *layers], name=f"model_{name.lower()}")
    x = _tokens(shape, TOKEN_INPUTS[name]) if name in TOKEN_INPUTS else _floats(shape)
    if compile:
        model.compile(optimizer="adam", loss="mse")
        y = np.random.default_rng(1).normal(size=(len(x), *model.output_shape[1:])).astype(np.float32)
        model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    return model, x


def fixture(name):
    data = np.load(DATA / "keras" / f"{name}.npz")
    return DATA / "keras" / f"{name}.keras", data["x"], data["y"]

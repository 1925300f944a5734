"""`python -m ferronet.demo`: train on the bundled handwritten digits (1,797 8x8 images).

By default a small convnet (Keras's "simple MNIST convnet" shape: two Conv2D + MaxPooling2D
blocks, Flatten, Dropout, softmax Dense); `--model dense` trains a dense network instead. The
code is Keras code: `import keras` in place of `import ferronet as keras` runs it unchanged.
Exits with status 1 if the test accuracy is below the model's target (convnet 0.97, dense 0.95).
"""

import argparse
import sys
import time

import numpy as np

import ferronet as keras
from ferronet import layers

TARGETS = {"convnet": 0.97, "dense": 0.95}


def convnet():
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def dense():
    return keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train on the bundled digits and print the test accuracy.")
    parser.add_argument("--model", choices=sorted(TARGETS), default="convnet")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(42)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.astype("float32") / 16.0
    x_test = x_test.astype("float32") / 16.0
    if args.model == "convnet":
        x_train, x_test, model, epochs = np.expand_dims(x_train, -1), np.expand_dims(x_test, -1), convnet(), 25
    else:
        x_train, x_test, model, epochs = x_train.reshape(-1, 64), x_test.reshape(-1, 64), dense(), 30
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"\ntrained in {seconds:.2f} s; test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    return 0 if accuracy >= TARGETS[args.model] else 1


if __name__ == "__main__":
    sys.exit(main())

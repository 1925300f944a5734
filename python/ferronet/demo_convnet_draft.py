"""Draft of `python -m ferronet.demo` with a convnet (to replace demo.py once the conv engine is in
the release): train Keras's "Simple MNIST convnet" shape on the bundled 8x8 digits.

The same code runs under Keras with `import keras`; here `import ferronet as keras`.
"""

import sys
import time

import numpy as np

import ferronet as keras


def main():
    keras.utils.set_random_seed(42)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = np.expand_dims(x_train.astype("float32") / 16.0, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 16.0, -1)

    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), padding="same", activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=20, validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"\ntrained in {seconds:.2f} s; test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    return 0 if accuracy >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())

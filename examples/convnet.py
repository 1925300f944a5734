"""Keras's "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet), adapted to the bundled
8x8 handwritten digits: the same two Conv2D + MaxPooling2D blocks, Flatten, Dropout(0.5) and a
softmax Dense, with "same" padding so the small images survive two poolings (8 -> 4 -> 2).

Run: python examples/convnet.py [--epochs 25] [--batch-size 32]

Prints the model summary, the training progress, then the test loss and accuracy; exits with
status 1 if the test accuracy is below 0.97. The code is Keras code: `import keras` in place of
`import ferronet as keras` runs it unchanged.
"""

import argparse
import sys
import time

import numpy as np

import ferronet as keras
from ferronet import layers

NUM_CLASSES = 10
INPUT_SHAPE = (8, 8, 1)
TARGET_ACCURACY = 0.97


def load_data():
    """Digits scaled to [0, 1] with a channel axis, labels one-hot (as the Keras example)."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = np.expand_dims(x_train.astype("float32") / 16, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 16, -1)
    return (x_train, keras.utils.to_categorical(y_train, NUM_CLASSES)), (x_test, keras.utils.to_categorical(y_test, NUM_CLASSES))


def build_model():
    return keras.Sequential([
        keras.Input(shape=INPUT_SHAPE),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_data()
    print("x_train shape:", x_train.shape)
    print(x_train.shape[0], "train samples")
    print(x_test.shape[0], "test samples")

    model = build_model()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start

    score = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained in {seconds:.1f} s")
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    return 0 if score[1] >= TARGET_ACCURACY else 1


if __name__ == "__main__":
    sys.exit(main())

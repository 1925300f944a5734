"""Sequence classification with Embedding + Bidirectional LSTM on variable-length sequences.

The data are generated: token sequences of 5 to 40 tokens from a vocabulary of 30 (token 0 is
padding), each labelled 1 when token 1 occurs more often than token 2. The answer depends on
the whole sequence, in any order, and the sequences are padded to one length: `mask_zero=True`
makes the LSTMs skip the padding, so a padded sequence is classified exactly as the unpadded one.

Run: python examples/sequence.py [--epochs 8]
"""

import argparse

import numpy as np

import ferronet as keras
from ferronet import layers

VOCAB, MAX_LEN = 30, 40


def make_data(samples, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((samples, MAX_LEN), "int64")
    y = np.zeros(samples, "int64")
    for i in range(samples):
        length = rng.integers(5, MAX_LEN + 1)
        tokens = rng.integers(1, VOCAB, length)
        # Make the two counted tokens common enough that the counts decide.
        special = rng.random(length) < 0.3
        tokens[special] = rng.integers(1, 3, special.sum())
        if (tokens == 1).sum() == (tokens == 2).sum():
            tokens[0] = 1
        x[i, :length] = tokens  # post-padding with 0
        y[i] = int((tokens == 1).sum() > (tokens == 2).sum())
    return x, y


def build():
    return keras.Sequential([
        keras.Input((MAX_LEN,)),
        layers.Embedding(VOCAB, 16, mask_zero=True),
        layers.Bidirectional(layers.LSTM(32)),
        layers.Dense(1, activation="sigmoid"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    x_train, y_train = make_data(4000, seed=0)
    x_test, y_test = make_data(1000, seed=1)
    model = build()
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy {accuracy:.3f} (loss {loss:.4f}); always answering the majority class: "
          f"{max(y_test.mean(), 1 - y_test.mean()):.3f}")
    # Masking at work: the padded row and the same tokens without padding give the same answer.
    length = int((x_test[0] != 0).sum())
    padded = model.predict(x_test[:1], verbose=0)[0, 0]
    unpadded = keras.Sequential([keras.Input((length,)), *build().layers])
    unpadded.set_weights(model.get_weights())
    short = unpadded.predict(x_test[:1, :length], verbose=0)[0, 0]
    print(f"first test sequence ({length} tokens): padded to {MAX_LEN} -> {padded:.6f}, unpadded -> {short:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

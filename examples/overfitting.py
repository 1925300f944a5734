"""Fighting overfitting on a small slice of the digits: the same large dense network trained
plain, with Dropout, with L2, with BatchNormalization and with EarlyStopping.

Run: python examples/overfitting.py [--epochs 150] [--figure overfitting.png]
(needs matplotlib for the figure: pip install 'ferronet[plot]')

Prints, for each run, the best validation accuracy, the final train-validation gap (train accuracy
minus validation accuracy, and validation loss minus train loss) and the epochs run, then saves
one figure with every run's training and validation loss curves.
"""

import argparse
import sys

import ferronet as keras
from ferronet import layers, regularizers

TRAIN_SAMPLES = 300  # a small slice, so a 2 x 512 network can memorise it


def data():
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16
    x_test = x_test.reshape(-1, 64).astype("float32") / 16
    return (x_train[:TRAIN_SAMPLES], y_train[:TRAIN_SAMPLES]), (x_test, y_test)


def network(variant):
    hidden = []
    for _ in range(2):
        if variant == "l2":
            hidden.append(layers.Dense(512, activation="relu", kernel_regularizer=regularizers.L2(1e-3)))
        elif variant == "batchnorm":
            hidden += [layers.Dense(512), layers.BatchNormalization(), layers.Activation("relu")]
        else:
            hidden.append(layers.Dense(512, activation="relu"))
        if variant == "dropout":
            hidden.append(layers.Dropout(0.5))
    return keras.Sequential([keras.Input((64,)), *hidden, layers.Dense(10, activation="softmax")])


def train(variant, epochs, train_data, val_data):
    keras.utils.set_random_seed(0)
    model = network(variant)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = []
    if variant == "early_stopping":
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True))
    history = model.fit(*train_data, validation_data=val_data, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks)
    # The gap of the weights the run ends with (EarlyStopping restores its best epoch's).
    train_loss, train_acc = model.evaluate(*train_data, verbose=0)
    val_loss, val_acc = model.evaluate(*val_data, verbose=0)
    return {
        "history": history.history,
        "best_val_accuracy": max(history.history["val_accuracy"]),
        "accuracy_gap": train_acc - val_acc,
        "loss_gap": val_loss - train_loss,
        "epochs": len(history.epoch),
    }


def save_figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, r in results.items():
        line = axes[0].plot(r["history"]["loss"], label=name)[0]
        axes[1].plot(r["history"]["val_loss"], label=name, color=line.get_color())
    for ax, title in zip(axes, ("training loss", "validation loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend()
    fig.suptitle(f"Overfitting on {TRAIN_SAMPLES} digits: plain vs regularized")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--figure", default="overfitting.png")
    args = parser.parse_args(argv)
    train_data, val_data = data()
    results = {v: train(v, args.epochs, train_data, val_data) for v in ("plain", "dropout", "l2", "batchnorm", "early_stopping")}
    print(f"{'run':<16}{'best val acc':>14}{'acc gap':>10}{'loss gap':>10}{'epochs':>8}")
    for name, r in results.items():
        print(f"{name:<16}{r['best_val_accuracy']:>14.4f}{r['accuracy_gap']:>10.4f}{r['loss_gap']:>10.4f}{r['epochs']:>8}")
    try:
        save_figure(results, args.figure)
        print(f"\nfigure saved to {args.figure}")
    except ImportError:
        print("\n(no figure: matplotlib is not installed; pip install 'ferronet[plot]')")
    plain = results["plain"]["loss_gap"]
    smaller = all(r["loss_gap"] < plain for name, r in results.items() if name != "plain")
    print("every regularized run has a smaller validation-train loss gap than the plain one:", smaller)
    return 0 if smaller else 1


if __name__ == "__main__":
    sys.exit(main())

"""Vanishing gradients, seen and cured.

Part 1, depth: a 10-layer dense network on the digits, trained with sigmoid, ReLU, ELU and
ReLU + BatchNormalization. A `GradientMonitor` records every layer's gradient norm; with sigmoid
the first layers' gradients are orders of magnitude below the last ones' and the network barely
learns; ReLU (He initialization), ELU and BatchNormalization keep the gradient flowing.

Part 2, time: the adding problem (Hochreiter & Schmidhuber 1997). Each sequence has T steps of
(random value, marker); two steps are marked, one in the first half and one in the second, and
the target is the sum of the two marked values. A SimpleRNN must carry the first value across
T/2 steps through a product of T/2 Jacobians and fails (its error stays at the baseline of
always answering 1.0, MSE ~0.17); an LSTM's cell state carries it additively and learns.

Run: python examples/vanishing_gradients.py [--epochs 20] [--steps 100] [--figure-dir .]
(matplotlib for the figures: pip install 'ferronet[plot]')
"""

import argparse
import os

import numpy as np

import ferronet as keras
from ferronet import layers


def digits():
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    return (x_train.reshape(-1, 64).astype("float32") / 16, y_train), (x_test.reshape(-1, 64).astype("float32") / 16, y_test)


def deep_network(variant, depth=10, width=64):
    hidden = []
    for _ in range(depth - 1):
        if variant == "sigmoid":
            hidden.append(layers.Dense(width, activation="sigmoid"))
        elif variant == "relu":
            hidden.append(layers.Dense(width, activation="relu", kernel_initializer="he_normal"))
        elif variant == "elu":
            hidden.append(layers.Dense(width, activation="elu", kernel_initializer="he_normal"))
        else:  # relu + batchnorm
            hidden += [layers.Dense(width, kernel_initializer="he_normal"), layers.BatchNormalization(), layers.Activation("relu")]
    return keras.Sequential([keras.Input((64,)), *hidden, layers.Dense(10, activation="softmax")])


def part_depth(epochs, figure_dir):
    train, test = digits()
    print(f"== 10-layer dense networks on digits, SGD(0.05), {epochs} epochs ==")
    results = {}
    for variant in ("sigmoid", "relu", "elu", "relu+batchnorm"):
        keras.utils.set_random_seed(0)
        model = deep_network(variant)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        monitor = keras.callbacks.GradientMonitor()
        history = model.fit(*train, epochs=epochs, batch_size=32, verbose=0, callbacks=[monitor])
        _, accuracy = model.evaluate(*test, verbose=0)
        norms = {name: values[0] for name, values in history.gradient_norms.items()}  # the first epoch
        dense = [name for name in norms if name.startswith("dense")]
        first, last = norms[dense[0]], norms[dense[-1]]
        results[variant] = accuracy
        print(f"{variant:>15}: test accuracy {accuracy:.3f} | first-epoch gradient norm, first dense layer {first:.2e}, "
              f"last {last:.2e} (ratio {first / last:.1e})")
        print("                 per dense layer: " + " ".join(f"{norms[name]:.1e}" for name in dense))
        if figure_dir:
            save(history, os.path.join(figure_dir, f"gradient_norms_{variant.replace('+', '_')}.png"))
    return results


def adding_problem(samples, steps, seed):
    rng = np.random.default_rng(seed)
    values = rng.random((samples, steps)).astype("float32")
    markers = np.zeros((samples, steps), "float32")
    first = rng.integers(0, steps // 2, samples)
    second = rng.integers(steps // 2, steps, samples)
    markers[np.arange(samples), first] = 1.0
    markers[np.arange(samples), second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[np.arange(samples), first] + values[np.arange(samples), second])[:, None]
    return x, y


def part_time(epochs, steps, figure_dir):
    x, y = adding_problem(4000, steps, seed=0)
    x_test, y_test = adding_problem(1000, steps, seed=1)
    baseline = float(np.mean((y_test - 1.0) ** 2))
    print(f"\n== the adding problem, {steps} steps, 4000 sequences, Adam(1e-2, clipnorm=1), {epochs} epochs ==")
    print(f"{'baseline':>15}: test MSE {baseline:.4f} (always answering 1.0)")
    results = {}
    for name, rnn in (("SimpleRNN", layers.SimpleRNN(32)), ("LSTM", layers.LSTM(32))):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((steps, 2)), rnn, layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss="mse")
        history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[keras.callbacks.GradientMonitor()])
        mse = model.evaluate(x_test, y_test, verbose=0)
        results[name] = mse
        norms = history.gradient_norms[rnn.name]
        print(f"{name:>15}: test MSE {mse:.4f} | recurrent layer's gradient norm, epoch 1 {norms[0]:.2e}, last {norms[-1]:.2e}")
        if figure_dir:
            save(history, os.path.join(figure_dir, f"gradient_norms_adding_{name.lower()}.png"))
    return results, baseline


def save(history, path):
    try:
        keras.plot.gradient_norms(history, path=path)
    except ImportError:
        return
    print(f"                 saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rnn-epochs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--figure-dir", default=".")
    args = parser.parse_args(argv)
    if args.figure_dir:
        os.makedirs(args.figure_dir, exist_ok=True)
    part_depth(args.epochs, args.figure_dir)
    part_time(args.rnn_epochs, args.steps, args.figure_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

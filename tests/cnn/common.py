"""Harness for the CNN layer tests.

`check_against_reference` runs a built layer on a seeded input and compares, against a float64
NumPy reference of the input and the layer's weights (Keras layouts), the forward values
(`BALANCED`: sums over a window accumulate in float32) and the gradients of `sum(out * w)`
(`w` seeded normal weights) with respect to the input and every weight, by central differences
(`helpers.numeric_grad`, `helpers.assert_grad_close`).

`check_layer` is the per-layer contract of STYLE.md item 10: output shape, weight shapes and
count, config round trip, Keras weight interchange (`set_weights`/`get_weights`) and one training
step inside a Sequential model.
"""

import numpy as np

import ferronet as fn

from ..helpers import BALANCED, assert_close, assert_grad_close, numeric_grad, rng, sample


def seeded_input(shape, seed=0, low=-1.0, high=1.0):
    return sample(shape, low, high, seed=seed)


def randomize_weights(layer, seed=1, scale=0.5):
    """Give every weight seeded values (non-zero biases), through Keras's `set_weights`."""
    generator = rng(seed)
    arrays = [generator.uniform(-scale, scale, size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(arrays)
    return arrays


def check_against_reference(layer, x, reference, tol=BALANCED, grad=True, seed=0):
    """Compare `layer(x)` with `reference(x, *weights)` (float64, weights in `get_weights()` order),
    then the gradients of the input and of each weight. Returns the ferronet output."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    leaf = fn.tensor(x, requires_grad=grad)
    out = layer(leaf)
    weights = layer._ordered_weights()
    values = [x.astype(np.float64)] + [w.astype(np.float64) for w in layer.get_weights()]
    expected = np.asarray(reference(*values), dtype=np.float64)
    got = out.numpy()
    assert_close(got, expected, tol, what=f"{layer.name} forward")
    if not grad:
        return got
    w = rng(seed + 100).standard_normal(expected.shape)
    (out * w.astype(np.float32)).sum().backward()
    names = ["input"] + [name for name, _, _ in layer._weights]
    for i, tensor in enumerate([leaf] + weights):
        assert tensor.grad is not None, f"{layer.name}: {names[i]} got no gradient"
        numeric = numeric_grad(reference, values, i, w)
        assert_grad_close(tensor.grad.numpy(), numeric, what=f"{layer.name} gradient of {names[i]}")
    return got


def check_layer(make_layer, input_shape, output_shape, weight_shapes, seed=0):
    """Shape, weights, config round trip, Keras weight interchange and a training step."""
    layer = make_layer()
    assert layer.compute_output_shape((None, *input_shape)) == (None, *output_shape)
    model = fn.Sequential([fn.Input(input_shape), layer, fn.layers.Flatten(), fn.layers.Dense(1)])
    assert [w.shape for w in layer.get_weights()] == [tuple(s) for s in weight_shapes]
    assert layer.count_params() == sum(int(np.prod(s)) for s in weight_shapes)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert {**clone.get_config(), "name": config["name"]} == config

    arrays = randomize_weights(layer, seed + 1)
    for got, sent in zip(layer.get_weights(), arrays):
        np.testing.assert_array_equal(got, sent)

    x = seeded_input((4, *input_shape), seed)
    y = rng(seed + 2).standard_normal((4, 1)).astype(np.float32)
    assert model.predict(x, verbose=0).shape == (4, 1)
    model.compile(fn.optimizers.SGD(0.05), "mse")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if weight_shapes:
        assert any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), arrays)), f"{layer.name}: a training step changed no weight"
    return layer

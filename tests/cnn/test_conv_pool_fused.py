"""Conv2D followed by MaxPooling2D runs as one fused op in inference (`predict`, or a call under
`no_grad`): a direct convolution whose output is pooled before it is stored. These tests check
that path against the float64 NumPy reference (conv, bias, activation, then max pooling) on odd
sizes, batch 1, channel counts that leave partial blocks of 16 output channels, strides,
dilation and both paddings; that it agrees with the unfused, recorded path; and that it keeps
NaN as max pooling does.

In training (a gradient wanted) the pair is one recorded op too when the activation is ReLU or
linear: on small images with disjoint windows the convolution's output and its gradient never
leave a worker's cache (`cpu::conv_pool_training`), elsewhere the pooling's and the ReLU's
backward run as one pass. Its gradients are checked against central differences of the
reference, and its training steps against the same layers kept apart."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers as L

from ..helpers import BALANCED, STRICT, assert_close, assert_grad_close, numeric_grad, rng
from . import reference as ref
from .common import randomize_weights, seeded_input

# (input shape without batch, conv kwargs, pool kwargs)
CASES = [
    ((9, 11, 1), dict(filters=5, kernel_size=3), dict()),
    ((10, 10, 1), dict(filters=32, kernel_size=3), dict()),
    ((13, 13, 32), dict(filters=64, kernel_size=3), dict()),
    ((12, 9, 3), dict(filters=21, kernel_size=(2, 3), strides=(2, 1)), dict(pool_size=(2, 3), strides=1)),
    ((11, 12, 5), dict(filters=33, kernel_size=3, padding="same"), dict(pool_size=3, strides=2, padding="same")),
    ((15, 14, 4), dict(filters=16, kernel_size=3, dilation_rate=2), dict(pool_size=2, padding="same")),
    ((8, 7, 2), dict(filters=7, kernel_size=5, padding="same", strides=2), dict(pool_size=1)),
    ((6, 6, 3), dict(filters=17, kernel_size=1, use_bias=False), dict(pool_size=(3, 2), strides=(1, 2))),
]
ACTIVATIONS = ["relu", None, "tanh", "gelu", "leaky_relu", "hard_sigmoid"]


def _model(shape, conv, pool, activation, seed=1):
    model = fn.Sequential([fn.Input(shape), L.Conv2D(activation=activation, **conv), L.MaxPooling2D(**pool)])
    randomize_weights(model.layers[0], seed=seed)
    return model


def _expected(x, model, conv, pool, activation):
    weights = [w.astype(np.float64) for w in model.layers[0].get_weights()]
    y = ref.conv(x.astype(np.float64), weights[0], weights[1] if len(weights) > 1 else None, strides=conv.get("strides", 1),
                 padding=conv.get("padding", "valid"), dilation=conv.get("dilation_rate", 1), activation=activation)
    return ref.pool(y, pool.get("pool_size", 2), pool.get("strides"), pool.get("padding", "valid"))


@pytest.mark.parametrize("shape, conv, pool", CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_conv_pool_predict_matches_reference(shape, conv, pool, batch):
    for i, activation in enumerate(ACTIVATIONS):
        model = _model(shape, conv, pool, activation, seed=i + 1)
        x = seeded_input((batch,) + shape, seed=i)
        expected = _expected(x, model, conv, pool, activation)
        assert_close(model.predict(x, verbose=0), expected, BALANCED, what=f"predict {conv} {pool} {activation}")


@pytest.mark.parametrize("shape, conv, pool", CASES[:5])
def test_conv_pool_fused_agrees_with_the_recorded_path(shape, conv, pool):
    model = _model(shape, conv, pool, "relu")
    x = seeded_input((2,) + shape, seed=7)
    recorded = model(x)  # grad mode on, weights trainable: conv2d then max_pool, recorded
    assert recorded.requires_grad
    with fn.no_grad():
        fused = model(x)
    assert not fused.requires_grad
    assert_close(fused.numpy(), recorded.numpy(), BALANCED, what="no_grad vs recorded")


def test_conv_pool_fused_at_the_convnet_shapes_one_image():
    # W6's first two blocks on one image, several thread-count-independent parts per layer.
    model = fn.Sequential([fn.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                           L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D()])
    for layer in model.layers[::2]:
        randomize_weights(layer, seed=3)
    x = seeded_input((1, 28, 28, 1), seed=5, low=0.0)
    w1, b1 = [w.astype(np.float64) for w in model.layers[0].get_weights()]
    w2, b2 = [w.astype(np.float64) for w in model.layers[2].get_weights()]
    y = ref.pool(ref.conv(x.astype(np.float64), w1, b1, activation="relu"), 2)
    y = ref.pool(ref.conv(y, w2, b2, activation="relu"), 2)
    assert_close(model.predict(x, verbose=0), y, BALANCED, what="convnet blocks")


def test_conv_pool_fused_propagates_nan():
    model = _model((6, 6, 2), dict(filters=3, kernel_size=3), dict(), "relu")
    x = rng(0).uniform(-1, 1, size=(1, 6, 6, 2)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan  # reaches conv outputs (0, 0) only: the first pooled pixel
    with fn.no_grad():
        y = model(x).numpy()
    assert np.isnan(y[0, 0, 0]).all() and not np.isnan(y[0, 1:, :]).any() and not np.isnan(y[0, :, 1:]).any()


def test_conv_pool_not_fused_when_not_fusable():
    # Conv2D with softmax over channels, then pooling: not elementwise, so run as two layers.
    model = _model((7, 7, 2), dict(filters=4, kernel_size=3), dict(), "softmax")
    x = seeded_input((2, 7, 7, 2), seed=2)
    expected = _expected(x, model, dict(), dict(), "softmax")
    assert_close(model.predict(x, verbose=0), expected, BALANCED, what="softmax conv then pool")


def test_conv_pool_fused_errors_name_the_layer():
    model = fn.Sequential([L.Conv2D(4, 3, name="conv_a"), L.MaxPooling2D(4, name="pool_b")])
    with pytest.raises(ValueError, match="pool_b"):
        model.predict(np.zeros((1, 5, 5, 1), np.float32), verbose=0)  # 3x3 output, 4x4 window
    with pytest.raises(ValueError, match="conv_a"):
        model.predict(np.zeros((1, 2, 5, 1), np.float32), verbose=0)  # smaller than the kernel


# Small enough for central differences; windows disjoint (the direct-write backward), with gaps
# (stride above the window), and overlapping (accumulated); channel counts off multiples of 8.
TRAINING_CASES = [
    ((7, 8, 2), dict(filters=11, kernel_size=3), dict()),
    ((9, 7, 3), dict(filters=8, kernel_size=(2, 3), strides=(1, 2), padding="same"), dict(pool_size=2, padding="same")),
    ((8, 8, 1), dict(filters=5, kernel_size=3, dilation_rate=2, use_bias=False), dict(pool_size=(2, 1), strides=(3, 2))),
    ((7, 7, 2), dict(filters=9, kernel_size=3, padding="same"), dict(pool_size=3, strides=2, padding="same")),
]


@pytest.mark.parametrize("shape, conv, pool", TRAINING_CASES)
@pytest.mark.parametrize("activation", ["relu", None, "tanh"])
def test_conv_pool_training_gradients_match_reference(shape, conv, pool, activation):
    # relu and linear take the fused training op; tanh runs conv2d then max_pool.
    model = _model(shape, conv, pool, activation, seed=4)
    x = seeded_input((2,) + shape, seed=8)
    leaf = fn.tensor(x, requires_grad=True)
    out = model(leaf)
    weights = model.layers[0].get_weights()
    values = [x.astype(np.float64)] + [w.astype(np.float64) for w in weights]

    def reference(x, kernel, bias=None):
        y = ref.conv(x, kernel, bias, strides=conv.get("strides", 1), padding=conv.get("padding", "valid"),
                     dilation=conv.get("dilation_rate", 1), activation=activation)
        return ref.pool(y, pool.get("pool_size", 2), pool.get("strides"), pool.get("padding", "valid"))

    assert_close(out.numpy(), reference(*values), BALANCED, what=f"training forward {conv} {pool} {activation}")
    w = rng(9).standard_normal(out.shape)
    (out * w.astype(np.float32)).sum().backward()
    tensors = [leaf] + model.layers[0]._ordered_weights()
    for i, (name, tensor) in enumerate(zip(["input", "kernel", "bias"], tensors)):
        assert_grad_close(tensor.grad.numpy(), numeric_grad(reference, values, i, w), what=f"{name} {conv} {pool} {activation}")


def _convnet(fused, seed=0):
    # The W3 architecture, small. An identity Activation between a convolution and its pooling
    # keeps the pair apart: those layers run as conv2d then max_pool.
    def apart():
        return [] if fused else [L.Activation("linear")]

    model = fn.Sequential([fn.Input((12, 12, 1)), L.Conv2D(8, 3, activation="relu"), *apart(), L.MaxPooling2D(),
                           L.Conv2D(12, 3, activation="relu"), *apart(), L.MaxPooling2D(), L.Flatten(), L.Dense(10, activation="softmax")])
    for layer in model.layers:
        if layer.get_weights():
            randomize_weights(layer, seed=seed)
    model.compile(optimizer=fn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def test_conv_pool_fused_training_equals_the_layers_apart():
    x = seeded_input((37, 12, 12, 1), seed=3, low=0.0)
    y = rng(4).integers(0, 10, 37)
    fused, apart = _convnet(True), _convnet(False)
    for model in (fused, apart):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(fused.get_weights(), apart.get_weights()):
        # STRICT, not bit for bit: the fused op sums the bias and kernel gradients in another
        # (fixed) order.
        assert_close(a, b, STRICT, what="weights after training")


@pytest.mark.parametrize("batch", [1, 3])
def test_conv_pool_training_keeps_nan_like_the_layers_apart(batch):
    # A NaN input makes its windows' maxima NaN; those windows send no gradient back (max
    # pooling's rule), the kernel gradient takes NaN from the patches. Batch 1 runs the fused op
    # that keeps the convolution's output, batch 3 the one by images.
    x = seeded_input((batch, 9, 9, 2), seed=6)
    x[0, 2, 3, 1] = np.nan
    grads = []
    for fused in (True, False):
        apart = [] if fused else [L.Activation("linear")]
        model = fn.Sequential([fn.Input((9, 9, 2)), L.Conv2D(10, 3, activation="relu"), *apart, L.MaxPooling2D()])
        randomize_weights(model.layers[0], seed=2)
        leaf = fn.tensor(x, requires_grad=True)
        out = model(leaf)
        (out * rng(1).standard_normal(out.shape).astype(np.float32)).sum().backward()
        grads.append([out.numpy(), leaf.grad.numpy()] + [w.grad.numpy() for w in model.layers[0]._ordered_weights()])
    assert np.isnan(grads[0][0]).any() and np.isfinite(grads[0][1]).all()
    for name, a, b in zip(["output", "input gradient", "kernel gradient", "bias gradient"], *grads):
        assert_close(a, b, STRICT, what=name)  # NaN where the other has NaN


THREADS_SCRIPT = """
import sys, numpy as np, ferronet as fn
L = fn.layers
fn.utils.set_random_seed(0)
m = fn.Sequential([fn.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(), L.Conv2D(64, 3, activation="relu"),
                   L.MaxPooling2D(), L.Conv2D(10, 3, padding="same"), L.MaxPooling2D(3, 2), L.Flatten(), L.Dropout(0.5),
                   L.Dense(10, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.random((192, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 192)
m.fit(x, y, batch_size=96, epochs=2, verbose=0)
np.save(sys.argv[1], np.concatenate([w.ravel() for w in m.get_weights()]))
"""


def test_convnet_training_is_bit_identical_on_one_two_and_three_threads(tmp_path):
    """The convolution passes split the batch into parts fixed by the shapes, and the kernel and
    bias gradients sum fixed partials in order: the thread count does not change a single bit.
    (Both fused training paths: by images, and overlapping 3x2 windows keeping the output.)"""
    import os
    import subprocess
    import sys

    results = []
    for threads in (1, 2, 3):
        path = tmp_path / f"w{threads}.npy"
        env = {**os.environ, "FERRONET_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, str(path)], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        results.append(np.load(path))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])

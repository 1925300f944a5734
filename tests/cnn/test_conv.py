"""Conv1D and Conv2D against the float64 NumPy reference: forward values and input/kernel/bias
gradients for every option (strides, padding valid/same/causal in any case, dilation, groups,
both data formats, odd sizes, batch 1, activations, no bias), Keras's verified 5x5 values and
Keras-layout weights."""

import numpy as np
import pytest

import ferronet as fn

from . import reference as ref
from .common import check_against_reference, check_layer, randomize_weights, seeded_input

L = fn.layers

# (input shape, layer kwargs); every kwarg that changes the geometry is passed to the reference.
CONV2D_CASES = {
    "valid": ((2, 6, 7, 3), dict(filters=4, kernel_size=3)),
    "same_stride2_odd": ((1, 7, 5, 2), dict(filters=3, kernel_size=(3, 2), strides=2, padding="same")),
    "valid_stride_2_1": ((2, 7, 6, 2), dict(filters=2, kernel_size=3, strides=(2, 1))),
    "same_even_kernel": ((2, 5, 6, 2), dict(filters=3, kernel_size=4, padding="same")),
    "dilation2_same": ((2, 7, 7, 2), dict(filters=3, kernel_size=3, dilation_rate=2, padding="same")),
    "dilation_2_1_valid": ((1, 8, 6, 2), dict(filters=2, kernel_size=(3, 2), dilation_rate=(2, 1))),
    "groups2": ((2, 5, 5, 4), dict(filters=6, kernel_size=3, groups=2, padding="same")),
    "groups4_depthwise_like": ((2, 6, 5, 4), dict(filters=4, kernel_size=2, groups=4)),
    "channels_first": ((2, 3, 6, 5), dict(filters=4, kernel_size=3, data_format="channels_first")),
    "channels_first_same_stride2": ((1, 2, 7, 6), dict(filters=3, kernel_size=3, strides=2, padding="SAME", data_format="channels_first")),
    "channels_first_groups": ((2, 4, 5, 5), dict(filters=2, kernel_size=3, groups=2, data_format="channels_first")),
    "one_by_one": ((2, 3, 4, 5), dict(filters=3, kernel_size=1)),
    "kernel_equals_input": ((2, 3, 3, 2), dict(filters=2, kernel_size=3)),
    "tanh_no_bias": ((2, 5, 5, 2), dict(filters=3, kernel_size=3, activation="tanh", use_bias=False)),
    "sigmoid_stride3": ((1, 8, 8, 1), dict(filters=2, kernel_size=2, strides=3, activation="sigmoid", padding="same")),
}

CONV1D_CASES = {
    "valid": ((2, 9, 3), dict(filters=4, kernel_size=3)),
    "same_stride2": ((2, 9, 2), dict(filters=3, kernel_size=4, strides=2, padding="same")),
    "causal": ((2, 7, 2), dict(filters=3, kernel_size=3, padding="causal")),
    "causal_dilation2": ((1, 9, 2), dict(filters=2, kernel_size=3, padding="Causal", dilation_rate=2)),
    "causal_stride2": ((2, 8, 2), dict(filters=2, kernel_size=3, padding="causal", strides=2)),
    "dilation3_valid": ((2, 11, 1), dict(filters=2, kernel_size=3, dilation_rate=3)),
    "groups3": ((2, 6, 3), dict(filters=6, kernel_size=2, groups=3)),
    "channels_first": ((2, 3, 8), dict(filters=2, kernel_size=3, padding="same", data_format="channels_first")),
    "channels_first_causal": ((1, 2, 6), dict(filters=2, kernel_size=2, padding="causal", data_format="channels_first")),
    "tanh_no_bias": ((1, 5, 2), dict(filters=2, kernel_size=2, activation="tanh", use_bias=False)),
}


def conv_reference(kwargs):
    geometry = dict(strides=kwargs.get("strides", 1), padding=kwargs.get("padding", "valid").lower(),
                    dilation=kwargs.get("dilation_rate", 1), groups=kwargs.get("groups", 1),
                    activation=kwargs.get("activation"), channels_first=kwargs.get("data_format") == "channels_first")
    if kwargs.get("use_bias", True):
        return lambda x, kernel, bias: ref.conv(x, kernel, bias, **geometry)
    return lambda x, kernel: ref.conv(x, kernel, None, **geometry)


@pytest.mark.parametrize("case", sorted(CONV2D_CASES))
def test_conv2d_forward_and_gradients(case):
    shape, kwargs = CONV2D_CASES[case]
    layer = L.Conv2D(**kwargs)
    layer.build((None, *shape[1:]))
    randomize_weights(layer)
    out = check_against_reference(layer, seeded_input(shape), conv_reference(kwargs))
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


@pytest.mark.parametrize("case", sorted(CONV1D_CASES))
def test_conv1d_forward_and_gradients(case):
    shape, kwargs = CONV1D_CASES[case]
    layer = L.Conv1D(**kwargs)
    layer.build((None, *shape[1:]))
    randomize_weights(layer)
    out = check_against_reference(layer, seeded_input(shape), conv_reference(kwargs))
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


def test_conv2d_relu_forward():
    layer = L.Conv2D(5, 3, padding="same", activation="relu")
    layer.build((None, 6, 6, 3))
    randomize_weights(layer)
    check_against_reference(layer, seeded_input((2, 6, 6, 3)), conv_reference(dict(padding="same", activation="relu")), grad=False)


def test_conv2d_keras_verified_values():
    image = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    layer = L.Conv2D(1, 3, strides=2, padding="same", kernel_initializer="ones")
    np.testing.assert_array_equal(layer(image).numpy()[0, :, :, 0], [[12, 27, 24], [63, 108, 81], [72, 117, 84]])


def test_conv2d_keras_layout_weights_give_the_reference():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 2, 4, 6)).astype(np.float32)  # (kh, kw, cin / groups, filters)
    bias = rng.normal(size=6).astype(np.float32)
    x = rng.normal(size=(2, 7, 6, 8)).astype(np.float32)
    model = fn.Sequential([fn.Input((7, 6, 8)), L.Conv2D(6, (3, 2), groups=2, padding="same", activation="tanh")])
    model.set_weights([kernel, bias])
    expected = ref.conv(x, kernel.astype(np.float64), bias, padding="same", groups=2, activation="tanh")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=5e-3, atol=1e-5)
    conv1d = fn.Sequential([fn.Input((9, 4)), L.Conv1D(3, 2, padding="causal")])
    k1 = rng.normal(size=(2, 4, 3)).astype(np.float32)
    conv1d.set_weights([k1, np.zeros(3, np.float32)])
    x1 = rng.normal(size=(2, 9, 4)).astype(np.float32)
    np.testing.assert_allclose(conv1d.predict(x1, verbose=0), ref.conv(x1, k1.astype(np.float64), padding="causal"), rtol=5e-3, atol=1e-5)


def test_conv2d_layer_contract():
    check_layer(lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="relu"), (7, 7, 3), (4, 4, 4), [(3, 3, 3, 4), (4,)])
    check_layer(lambda: L.Conv2D(4, 3, groups=2, use_bias=False, data_format="channels_first"), (2, 5, 5), (4, 3, 3), [(3, 3, 1, 4)])


def test_conv1d_layer_contract():
    check_layer(lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2), (8, 2), (8, 3), [(3, 2, 3), (3,)])


def test_conv_regularizers_add_to_the_loss():
    x = np.ones((2, 4, 4, 1), np.float32)
    y = np.zeros((2, 1), np.float32)
    losses = []
    for regularizer in (None, fn.regularizers.L2(0.5)):
        model = fn.Sequential([fn.Input((4, 4, 1)), L.Conv2D(1, 3, kernel_initializer="ones", use_bias=False, kernel_regularizer=regularizer),
                               L.Flatten(), L.Dense(1, kernel_initializer="zeros")])
        model.compile(fn.optimizers.SGD(0.0), "mse")
        losses.append(model.evaluate(x, y, verbose=0))
    assert losses[1] - losses[0] == pytest.approx(0.5 * 9, rel=1e-5)  # L2: 0.5 * sum(kernel ** 2), kernel 3x3 ones

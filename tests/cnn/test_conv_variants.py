"""DepthwiseConv2D, SeparableConv2D and Conv2DTranspose against the float64 NumPy reference
(forward and input/weight gradients), Keras-layout weights, regularizers and the layer contract."""

import numpy as np
import pytest

import ferronet as fn

from . import reference as ref
from .common import check_against_reference, check_layer, randomize_weights, seeded_input

L = fn.layers


def geometry(kwargs, *extra):
    out = dict(strides=kwargs.get("strides", 1), padding=kwargs.get("padding", "valid").lower(),
               dilation=kwargs.get("dilation_rate", 1), activation=kwargs.get("activation"),
               channels_first=kwargs.get("data_format") == "channels_first")
    for key in extra:
        out[key] = kwargs.get(key)
    return out


DEPTHWISE_CASES = {
    "valid": ((2, 6, 5, 3), dict(kernel_size=3)),
    "multiplier2_same": ((2, 5, 6, 2), dict(kernel_size=3, depth_multiplier=2, padding="same")),
    "stride2_odd": ((1, 7, 7, 3), dict(kernel_size=(2, 3), strides=2, padding="same")),
    "dilation2": ((2, 7, 6, 2), dict(kernel_size=3, dilation_rate=2, depth_multiplier=3)),
    "channels_first": ((2, 3, 6, 5), dict(kernel_size=3, depth_multiplier=2, data_format="channels_first")),
    "tanh_no_bias": ((1, 5, 5, 2), dict(kernel_size=2, activation="tanh", use_bias=False)),
}

SEPARABLE_CASES = {
    "valid": ((2, 6, 6, 3), dict(filters=4, kernel_size=3)),
    "multiplier2_same_stride2": ((1, 7, 6, 2), dict(filters=3, kernel_size=3, depth_multiplier=2, strides=2, padding="same")),
    "dilation2": ((2, 7, 7, 2), dict(filters=2, kernel_size=2, dilation_rate=2)),
    "channels_first": ((2, 3, 5, 6), dict(filters=2, kernel_size=3, padding="same", data_format="channels_first")),
    "sigmoid_no_bias": ((1, 5, 5, 2), dict(filters=3, kernel_size=2, activation="sigmoid", use_bias=False)),
}

TRANSPOSE_CASES = {
    "valid": ((2, 4, 5, 3), dict(filters=2, kernel_size=3)),
    "valid_stride2": ((2, 3, 4, 2), dict(filters=3, kernel_size=3, strides=2)),
    "same_stride2": ((2, 4, 3, 2), dict(filters=2, kernel_size=3, strides=2, padding="same")),
    "same_stride2_even_kernel": ((1, 3, 4, 2), dict(filters=2, kernel_size=4, strides=2, padding="same")),
    "kernel_smaller_than_stride": ((2, 3, 3, 2), dict(filters=2, kernel_size=2, strides=3)),
    "output_padding_valid": ((1, 3, 4, 2), dict(filters=2, kernel_size=3, strides=2, output_padding=1)),
    "output_padding_same": ((2, 4, 3, 2), dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=1)),
    "output_padding_same_even": ((1, 3, 3, 2), dict(filters=2, kernel_size=4, strides=(2, 3), padding="same", output_padding=(1, 2))),
    # "same" with an even kernel and output_padding 0: Keras's output (in-1)*s is a crop of the full
    # transpose (crop max(0, (in-1)*s + k - out) // 2), though no "same" conv maps it back to `in`.
    "output_padding_same_even_kernel_zero": ((1, 5, 4, 2), dict(filters=2, kernel_size=2, padding="same", output_padding=0)),
    "output_padding_same_even_kernel_stride3": ((1, 3, 2, 2), dict(filters=2, kernel_size=(2, 4), strides=(3, 2), padding="same", output_padding=(2, 0))),
    "dilation2": ((2, 4, 4, 2), dict(filters=2, kernel_size=3, dilation_rate=2, padding="same")),
    "channels_first": ((2, 2, 4, 3), dict(filters=3, kernel_size=3, strides=2, data_format="channels_first")),
    "tanh_no_bias": ((1, 3, 3, 2), dict(filters=2, kernel_size=2, strides=2, activation="tanh", use_bias=False)),
}


@pytest.mark.parametrize("case", sorted(DEPTHWISE_CASES))
def test_depthwise_conv2d_forward_and_gradients(case):
    shape, kwargs = DEPTHWISE_CASES[case]
    layer = L.DepthwiseConv2D(**kwargs)
    layer.build((None, *shape[1:]))
    randomize_weights(layer)
    g = geometry(kwargs)
    reference = (lambda x, k, b: ref.depthwise_conv(x, k, b, **g)) if kwargs.get("use_bias", True) else (lambda x, k: ref.depthwise_conv(x, k, None, **g))
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


@pytest.mark.parametrize("case", sorted(SEPARABLE_CASES))
def test_separable_conv2d_forward_and_gradients(case):
    shape, kwargs = SEPARABLE_CASES[case]
    layer = L.SeparableConv2D(**kwargs)
    layer.build((None, *shape[1:]))
    randomize_weights(layer)
    g = geometry(kwargs)
    if kwargs.get("use_bias", True):
        reference = lambda x, dk, pk, b: ref.separable_conv(x, dk, pk, b, **g)
    else:
        reference = lambda x, dk, pk: ref.separable_conv(x, dk, pk, None, **g)
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


@pytest.mark.parametrize("case", sorted(TRANSPOSE_CASES))
def test_conv2d_transpose_forward_and_gradients(case):
    shape, kwargs = TRANSPOSE_CASES[case]
    layer = L.Conv2DTranspose(**kwargs)
    layer.build((None, *shape[1:]))
    randomize_weights(layer)
    g = geometry(kwargs, "output_padding")
    if kwargs.get("use_bias", True):
        reference = lambda x, k, b: ref.conv_transpose(x, k, b, **g)
    else:
        reference = lambda x, k: ref.conv_transpose(x, k, None, **g)
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    # <conv(z), x> == <z, conv_transpose(x)> with one shared Keras-layout kernel, both through the engine.
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    transpose = L.Conv2DTranspose(2, 3, strides=2, padding="same", use_bias=False)
    conv = L.Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    transpose.build((None, 3, 4, 4))
    conv.build((None, 6, 8, 2))
    transpose.set_weights([kernel])
    conv.set_weights([kernel])
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    z = rng.normal(size=(2, 6, 8, 2)).astype(np.float32)
    y = transpose(x).numpy()
    assert y.shape == z.shape
    np.testing.assert_allclose(np.sum(conv(z).numpy().astype(np.float64) * x), np.sum(z.astype(np.float64) * y), rtol=1e-4)


def test_keras_layout_weights_give_the_reference():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    depthwise = rng.normal(size=(3, 3, 3, 2)).astype(np.float32)
    pointwise = rng.normal(size=(1, 1, 6, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    model = fn.Sequential([fn.Input((6, 6, 3)), L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="tanh")])
    model.set_weights([depthwise, pointwise, bias])
    expected = ref.separable_conv(x, depthwise.astype(np.float64), pointwise.astype(np.float64), bias, padding="same", activation="tanh")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=5e-3, atol=1e-5)
    transpose = fn.Sequential([fn.Input((6, 6, 3)), L.Conv2DTranspose(2, 3, strides=2)])
    kernel = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)  # (kh, kw, filters, cin)
    transpose.set_weights([kernel, np.array([0.5, -0.5], np.float32)])
    expected = ref.conv_transpose(x, kernel.astype(np.float64), np.array([0.5, -0.5]), strides=2)
    np.testing.assert_allclose(transpose.predict(x, verbose=0), expected, rtol=5e-3, atol=1e-5)


def test_depthwise_conv2d_layer_contract():
    check_layer(lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (5, 5, 3), (5, 5, 6), [(3, 3, 3, 2), (6,)])


def test_separable_conv2d_layer_contract():
    check_layer(lambda: L.SeparableConv2D(4, 3, depth_multiplier=2, strides=2), (7, 7, 3), (3, 3, 4), [(3, 3, 3, 2), (1, 1, 6, 4), (4,)])


def test_conv2d_transpose_layer_contract():
    check_layer(lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1), (3, 3, 4), (6, 6, 2), [(3, 3, 2, 4), (2,)])


def test_separable_regularizers_are_per_weight():
    x = np.ones((2, 4, 4, 2), np.float32)
    y = np.zeros((2, 1), np.float32)
    model = fn.Sequential([fn.Input((4, 4, 2)),
                           L.SeparableConv2D(3, 3, depthwise_initializer="ones", pointwise_initializer="ones",
                                             depthwise_regularizer=fn.regularizers.L2(0.1), pointwise_regularizer=fn.regularizers.L1(0.2),
                                             bias_regularizer=fn.regularizers.L1(1.0), bias_initializer="ones"),
                           L.Flatten(), L.Dense(1, kernel_initializer="zeros", use_bias=False)])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    # depthwise 3x3x2x1 ones: 0.1 * 18; pointwise 1x1x2x3 ones: 0.2 * 6; bias 3 ones: 1.0 * 3
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.1 * 18 + 0.2 * 6 + 3.0, rel=1e-5)


def test_activity_regularizer_is_divided_by_the_batch_size():
    x = np.ones((2, 4, 4, 1), np.float32)
    y = np.zeros((2, 1), np.float32)
    model = fn.Sequential([fn.Input((4, 4, 1)), L.Conv2D(1, 3, kernel_initializer="ones", activity_regularizer=fn.regularizers.L1(0.1)),
                           L.Flatten(), L.Dense(1, kernel_initializer="zeros", use_bias=False)])
    model.compile(fn.optimizers.SGD(0.0), "mse")
    # each output is 9, 2x2 per sample: 0.1 * (2 * 4 * 9) / 2
    assert model.evaluate(x, y, batch_size=2, verbose=0) == pytest.approx(3.6, rel=1e-5)

"""Each misuse of a CNN layer is a ValueError/TypeError naming the layer (its class in the
constructor, its name once built) and the offending values or shapes; never a PanicException."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises

L = fn.layers


@pytest.mark.parametrize("make, fragments", [
    (lambda: L.Conv2D(0, 3), ["Conv2D:", "filters=0"]),
    (lambda: L.Conv2D(-4, 3), ["Conv2D:", "filters=-4"]),
    (lambda: L.Conv2D(2.5, 3), ["Conv2D:", "filters=2.5"]),
    (lambda: L.Conv1D(2, 0), ["Conv1D:", "kernel_size=0"]),
    (lambda: L.Conv2D(2, (3, -1)), ["Conv2D:", "kernel_size=(3, -1)"]),
    (lambda: L.Conv2D(2, (3, 3, 3)), ["Conv2D:", "tuple of 2", "kernel_size=(3, 3, 3)"]),
    (lambda: L.Conv2D(2, 3, strides=0), ["Conv2D:", "strides=0"]),
    (lambda: L.Conv2D(2, 3, strides=(1, -2)), ["Conv2D:", "strides=(1, -2)"]),
    (lambda: L.Conv1D(2, 3, dilation_rate=0), ["Conv1D:", "dilation_rate=0"]),
    (lambda: L.Conv2D(2, 3, strides=2, dilation_rate=2), ["Conv2D:", "dilation_rate > 1", "strides=(2, 2)", "dilation_rate=(2, 2)"]),
    (lambda: L.Conv1D(2, 3, strides=2, dilation_rate=3), ["Conv1D:", "strides=(2,)"]),
    (lambda: L.DepthwiseConv2D(3, strides=(1, 2), dilation_rate=(2, 1)), ["DepthwiseConv2D:", "dilation_rate=(2, 1)"]),
    (lambda: L.SeparableConv2D(2, 3, strides=2, dilation_rate=2), ["SeparableConv2D:", "strides=(2, 2)"]),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, dilation_rate=2), ["Conv2DTranspose:", "strides=(2, 2)"]),
    (lambda: L.Conv2D(3, 3, groups=2), ["Conv2D:", "filters=3", "groups=2"]),
    (lambda: L.Conv2D(4, 3, groups=0), ["Conv2D:", "groups=0"]),
    (lambda: L.Conv2D(2, 3, padding="full"), ["Conv2D:", "padding='full'"]),
    (lambda: L.Conv2D(2, 3, padding="causal"), ["Conv2D:", "padding='causal'"]),
    (lambda: L.Conv1D(2, 3, padding=1), ["Conv1D:", "padding=1"]),
    (lambda: L.MaxPooling2D(padding="causal"), ["MaxPooling2D:", "padding='causal'"]),
    (lambda: L.Conv2D(2, 3, data_format="NHWC"), ["Conv2D:", "data_format='NHWC'"]),
    (lambda: L.GlobalAveragePooling2D(data_format="channels_middle"), ["GlobalAveragePooling2D:", "channels_middle"]),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), ["DepthwiseConv2D:", "depth_multiplier=0"]),
    (lambda: L.SeparableConv2D(0, 3), ["SeparableConv2D:", "filters=0"]),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2), ["Conv2DTranspose:", "output_padding=(2, 2)", "strides=(2, 2)"]),
    (lambda: L.Conv2DTranspose(2, 3, output_padding=-1), ["Conv2DTranspose:", "output_padding=-1"]),
    (lambda: L.MaxPooling2D(0), ["MaxPooling2D:", "pool_size=0"]),
    (lambda: L.AveragePooling1D(2, strides=0), ["AveragePooling1D:", "strides=0"]),
    (lambda: L.ZeroPadding2D((1, 2, 3)), ["ZeroPadding2D:", "padding=(1, 2, 3)"]),
    (lambda: L.ZeroPadding2D(-1), ["ZeroPadding2D:", "padding=-1"]),
    (lambda: L.Cropping2D(((1, 2), (3,))), ["Cropping2D:", "cropping[1]"]),
    (lambda: L.UpSampling2D(0), ["UpSampling2D:", "size=0"]),
    (lambda: L.UpSampling2D(interpolation="cubic-ish"), ["UpSampling2D:", "interpolation='cubic-ish'"]),
    (lambda: L.GlobalMaxPooling1D(keepdims="yes"), ["GlobalMaxPooling1D:", "keepdims='yes'"]),
])
def test_constructor_errors_name_the_layer_and_the_value(make, fragments):
    check_raises(ValueError, make, *fragments)


def test_unsupported_options_say_so():
    check_raises(NotImplementedError, lambda: L.Conv2D(2, 3, kernel_constraint="max_norm"), "Conv2D: kernel_constraint")
    check_raises(NotImplementedError, lambda: L.UpSampling2D(interpolation="bilinear"), "UpSampling2D:", "bilinear")
    check_raises(TypeError, lambda: L.Conv2D(2, 3, kernel_sise=3), "Conv2D", "kernel_sise")


@pytest.mark.parametrize("make, shape, fragments", [
    (lambda: L.Conv2D(2, 3, name="c"), (None, 8, 8), ["c:", "rank 4", "(None, 8, 8)"]),
    (lambda: L.Conv1D(2, 3, name="c"), (None, 8, 8, 1), ["c:", "rank 3", "(None, 8, 8, 1)"]),
    (lambda: L.MaxPooling2D(name="p"), (None, 8), ["p:", "rank 4"]),
    (lambda: L.GlobalAveragePooling1D(name="g"), (None, 8, 8, 1), ["g:", "rank 3"]),
    (lambda: L.Conv2D(2, 5, name="c"), (None, 3, 8, 1), ["c:", "kernel_size=(5, 5)", "(None, 3, 8, 1)", "empty output"]),
    (lambda: L.Conv2D(2, 3, dilation_rate=3, name="c"), (None, 6, 6, 1), ["c:", "dilation_rate=(3, 3)", "(None, 6, 6, 1)"]),
    (lambda: L.Conv1D(2, 4, strides=2, name="c"), (None, 3, 1), ["c:", "(None, 3, 1)"]),
    (lambda: L.DepthwiseConv2D(4, name="d"), (None, 3, 3, 2), ["d:", "(None, 3, 3, 2)"]),
    (lambda: L.SeparableConv2D(2, 4, name="s"), (None, 3, 3, 2), ["s:", "(None, 3, 3, 2)"]),
    (lambda: L.MaxPooling2D(3, name="p"), (None, 2, 5, 1), ["p:", "pool_size=(3, 3)", "(None, 2, 5, 1)"]),
    (lambda: L.AveragePooling1D(4, name="p"), (None, 3, 1), ["p:", "(None, 3, 1)"]),
    (lambda: L.Cropping2D(((2, 2), (0, 0)), name="k"), (None, 4, 5, 1), ["k:", "cropping=((2, 2), (0, 0))", "(None, 4, 5, 1)"]),
    (lambda: L.Conv2D(4, 3, groups=2, name="c"), (None, 5, 5, 3), ["c:", "groups=2", "(None, 5, 5, 3)"]),
    (lambda: L.Conv2D(4, 3, groups=2, data_format="channels_first", name="c"), (None, 3, 5, 5), ["c:", "groups=2", "(None, 3, 5, 5)"]),
    (lambda: L.Conv2D(4, 3, name="c"), (None, 5, 5, None), ["c:", "channel", "(None, 5, 5, None)"]),
    (lambda: L.Conv2DTranspose(4, 2, padding="same", output_padding=0, name="t"), (None, 1, 1, 2), ["t:", "(None, 1, 1, 2)"]),
])
def test_build_errors_name_the_layer_and_the_shape(make, shape, fragments):
    layer = make()
    check_raises(ValueError, lambda: layer.build(shape), *fragments)
    model_layer = make()
    check_raises(ValueError, lambda: fn.Sequential([fn.Input(shape[1:]), model_layer]), *fragments)


def test_call_with_a_different_channel_count_after_build():
    layer = L.Conv2D(4, 3, name="conv")
    layer(np.zeros((1, 5, 5, 3), np.float32))
    check_raises(ValueError, lambda: layer(np.zeros((1, 5, 5, 2), np.float32)), "conv:", "3 channels", "(None, 5, 5, 2)")
    check_raises(ValueError, lambda: layer(np.zeros((1, 5, 5), np.float32)), "conv:", "rank 4", "(None, 5, 5)")
    check_raises(ValueError, lambda: layer(np.zeros((1, 2, 5, 3), np.float32)), "conv:", "(None, 2, 5, 3)")
    first = L.Conv2D(4, 3, data_format="channels_first", name="cf")
    first(np.zeros((1, 2, 5, 5), np.float32))
    check_raises(ValueError, lambda: first(np.zeros((1, 5, 5, 2), np.float32)), "cf:", "2 channels", "(None, 5, 5, 2)")
    for layer in (L.DepthwiseConv2D(3, name="dw"), L.SeparableConv2D(2, 3, name="sep"), L.Conv2DTranspose(2, 3, name="tr")):
        layer(np.zeros((1, 5, 5, 3), np.float32))
        check_raises(ValueError, lambda: layer(np.zeros((1, 5, 5, 4), np.float32)), f"{layer.name}:", "3 channels", "(None, 5, 5, 4)")


def test_a_built_layer_cannot_join_a_model_with_other_channels():
    layer = L.Conv2D(2, 3, name="shared")
    fn.Sequential([fn.Input((6, 6, 3)), layer])
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((6, 6, 1)), layer]), "shared:", "3 channels", "(None, 6, 6, 1)")


def test_model_input_mistakes_are_value_errors_from_the_engine_too():
    model = fn.Sequential([fn.Input((None, None, 2)), L.Conv2D(3, 3, name="conv_a"), L.GlobalMaxPooling2D()])
    assert model.predict(np.zeros((1, 5, 4, 2), np.float32), verbose=0).shape == (1, 3)
    check_raises(ValueError, lambda: model.predict(np.zeros((1, 2, 5, 2), np.float32), verbose=0), "conv_a")
    check_raises(ValueError, lambda: model(np.zeros((1, 2, 5, 2), np.float32)), "conv_a")
    check_raises(ValueError, lambda: model.predict(np.zeros((1, 5, 5, 3), np.float32), verbose=0), "(None, None, None, 2)")
    check_raises(ValueError, lambda: model(np.zeros((1, 5, 5, 3), np.float32)), "conv_a")
    check_raises(ValueError, lambda: model(np.zeros((5, 5, 2), np.float32)), "conv_a")


def test_set_weights_with_a_wrong_layout():
    layer = L.Conv2D(4, 3)
    layer.build((None, 6, 6, 2))
    check_raises(ValueError, lambda: layer.set_weights([np.zeros((3, 3, 4, 2), np.float32), np.zeros(4, np.float32)]), "(3, 3, 2, 4)", "(3, 3, 4, 2)")
    check_raises(ValueError, lambda: layer.set_weights([np.zeros((3, 3, 2, 4), np.float32)]), "expected 2 weight arrays, got 1")
    separable = L.SeparableConv2D(4, 3)
    separable.build((None, 6, 6, 2))
    check_raises(ValueError, lambda: separable.set_weights([np.zeros((3, 3, 2, 1), np.float32), np.zeros((1, 1, 4, 2), np.float32), np.zeros(4, np.float32)]), "(1, 1, 2, 4)")

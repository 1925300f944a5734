"""Output shapes, parameter counts, summaries, configs, names, aliases and initializer fans of the
CNN layers: Keras's geometry, checked without running the engine."""

import math

import numpy as np
import pytest

import ferronet as fn

from . import reference as ref

L = fn.layers

MNIST_CONVNET_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │        16,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 34,826 (136.04 KB)
 Trainable params: 34,826 (136.04 KB)
 Non-trainable params: 0 (0.00 B)"""


def test_keras_mnist_convnet_summary():
    fn.utils.clear_session()
    model = fn.Sequential([
        fn.Input(shape=(28, 28, 1)),
        L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) == MNIST_CONVNET_SUMMARY


def test_every_layer_summary_shape_and_count():
    model = fn.Sequential([
        fn.Input((9, 9, 4)),
        L.ZeroPadding2D(1),                                     # (11, 11, 4)
        L.Conv2D(6, 3, groups=2, padding="same"),               # (11, 11, 6): 3*3*2*6 + 6
        L.DepthwiseConv2D(3, depth_multiplier=2),               # (9, 9, 12): 3*3*6*2 + 12
        L.SeparableConv2D(8, 3, strides=2, padding="same"),     # (5, 5, 8): 3*3*12 + 12*8 + 8
        L.Conv2DTranspose(4, 3, strides=2),                     # (11, 11, 4): 3*3*4*8 + 4
        L.Cropping2D(((1, 2), (0, 1))),                         # (8, 10, 4)
        L.AveragePooling2D(2, padding="same"),                  # (4, 5, 4)
        L.UpSampling2D((1, 2)),                                 # (4, 10, 4)
        L.MaxPooling2D(3, strides=1),                           # (2, 8, 4)
        L.GlobalAveragePooling2D(keepdims=True),                # (1, 1, 4)
    ])
    shapes = [shape for _, shape in model._layer_shapes()]
    assert shapes == [(None, 11, 11, 4), (None, 11, 11, 6), (None, 9, 9, 12), (None, 5, 5, 8), (None, 11, 11, 4), (None, 8, 10, 4),
                      (None, 4, 5, 4), (None, 4, 10, 4), (None, 2, 8, 4), (None, 1, 1, 4)]
    assert [layer.count_params() for layer in model.layers] == [0, 114, 120, 212, 292, 0, 0, 0, 0, 0]
    lines = []
    model.summary(print_fn=lines.append)
    assert "(SeparableConv2D)" in lines[0] and " Total params: 738 (2.88 KB)" in lines[0]


def test_conv1d_model_shapes():
    model = fn.Sequential([fn.Input((20, 3)), L.Conv1D(8, 5, padding="causal", dilation_rate=2), L.MaxPooling1D(),
                           L.Conv1D(4, 3, strides=2), L.AveragePooling1D(2, padding="same"), L.GlobalMaxPooling1D()])
    assert [s for _, s in model._layer_shapes()] == [(None, 20, 8), (None, 10, 8), (None, 4, 4), (None, 2, 4), (None, 4)]
    assert model.count_params() == 5 * 3 * 8 + 8 + 3 * 8 * 4 + 4


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 8])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_output_shape_matches_the_reference(size, kernel, stride, padding):
    layer = L.Conv2D(2, (kernel, 1), strides=(stride, 1), padding=padding)
    if padding == "valid" and kernel > size:
        with pytest.raises(ValueError, match="empty output"):
            layer.compute_output_shape((None, size, 3, 1))
        return
    expected = ref.conv(np.zeros((1, size, 3, 1)), np.zeros((kernel, 1, 1, 2)), strides=(stride, 1), padding=padding).shape
    assert layer.compute_output_shape((None, size, 3, 1)) == (None, *expected[1:])
    assert expected[1] == (math.ceil(size / stride) if padding == "same" else (size - kernel) // stride + 1)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,kernel,stride,output_padding", [(3, 3, 1, None), (3, 3, 2, None), (4, 4, 2, None), (3, 2, 3, None),
                                                                (3, 3, 2, 1), (4, 4, 3, 2), (2, 1, 2, 1), (5, 3, 1, 0)])
def test_conv_transpose_output_shape_follows_keras(padding, size, kernel, stride, output_padding):
    layer = L.Conv2DTranspose(3, kernel, strides=stride, padding=padding, output_padding=output_padding)
    out = layer.compute_output_shape((None, size, size, 2))
    span = kernel
    if output_padding is None:
        length = size * stride + max(span - stride, 0) if padding == "valid" else size * stride
    else:
        length = (size - 1) * stride + span - 2 * (span // 2 if padding == "same" else 0) + output_padding
    assert out == (None, length, length, 3)
    assert out[1] == ref.conv_transpose(np.zeros((1, size, size, 2)), np.zeros((kernel, kernel, 3, 2)), strides=stride,
                                        padding=padding, output_padding=output_padding).shape[1]


def test_channels_first_shapes():
    assert L.Conv2D(4, 3, data_format="channels_first").compute_output_shape((None, 2, 8, 7)) == (None, 4, 6, 5)
    assert L.Conv1D(4, 3, padding="same", data_format="channels_first").compute_output_shape((None, 2, 9)) == (None, 4, 9)
    assert L.Conv2DTranspose(4, 3, strides=2, data_format="channels_first").compute_output_shape((None, 2, 3, 3)) == (None, 4, 7, 7)
    assert L.DepthwiseConv2D(3, depth_multiplier=3, data_format="channels_first").compute_output_shape((None, 2, 5, 5)) == (None, 6, 3, 3)
    assert L.MaxPooling2D(data_format="channels_first").compute_output_shape((None, 3, 5, 4)) == (None, 3, 2, 2)
    assert L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True).compute_output_shape((None, 3, 5, 4)) == (None, 3, 1, 1)
    assert L.ZeroPadding2D(((1, 2), (3, 4)), data_format="channels_first").compute_output_shape((None, 3, 5, 4)) == (None, 3, 8, 11)
    assert L.UpSampling2D(3, data_format="channels_first").compute_output_shape((None, 3, 5, 4)) == (None, 3, 15, 12)
    assert L.Cropping2D(1, data_format="channels_first").compute_output_shape((None, 3, 5, 4)) == (None, 3, 3, 2)


def test_unknown_spatial_sizes_stay_unknown():
    assert L.Conv2D(4, 3).compute_output_shape((None, None, 8, 2)) == (None, None, 6, 4)
    assert L.MaxPooling1D().compute_output_shape((None, None, 2)) == (None, None, 2)
    assert L.GlobalAveragePooling1D().compute_output_shape((None, None, 2)) == (None, 2)


def test_default_names_follow_keras():
    fn.utils.clear_session()
    names = [cls().name for cls in (L.MaxPooling2D, L.UpSampling2D, L.ZeroPadding2D, L.Cropping2D, L.GlobalAveragePooling1D)]
    assert names == ["max_pooling2d", "up_sampling2d", "zero_padding2d", "cropping2d", "global_average_pooling1d"]
    assert [L.Conv2D(1, 1).name, L.Conv2D(1, 1).name, L.Conv2DTranspose(1, 1).name, L.DepthwiseConv2D(1).name,
            L.SeparableConv2D(1, 1).name, L.Conv1D(1, 1).name] == ["conv2d", "conv2d_1", "conv2d_transpose", "depthwise_conv2d",
                                                                   "separable_conv2d", "conv1d"]


def test_aliases_are_the_same_classes_and_deserialize():
    pairs = [("Convolution1D", "Conv1D"), ("Convolution2D", "Conv2D"), ("MaxPool1D", "MaxPooling1D"), ("MaxPool2D", "MaxPooling2D"),
             ("AvgPool1D", "AveragePooling1D"), ("AvgPool2D", "AveragePooling2D"), ("GlobalAvgPool1D", "GlobalAveragePooling1D"),
             ("GlobalAvgPool2D", "GlobalAveragePooling2D"), ("GlobalMaxPool1D", "GlobalMaxPooling1D"), ("GlobalMaxPool2D", "GlobalMaxPooling2D")]
    for alias, name in pairs:
        assert getattr(L, alias) is getattr(L, name)
        assert L.get_layer_class(alias) is getattr(L, name)
    config = {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 6, 6, 1]}},
                                      {"class_name": "Convolution2D", "config": {"filters": 2, "kernel_size": [3, 3]}},
                                      {"class_name": "MaxPool2D", "config": {}}]}
    model = fn.Sequential.from_config(config)
    assert model.output_shape == (None, 2, 2, 2)


@pytest.mark.parametrize("make", [
    lambda: L.Conv1D(4, 3, strides=2, padding="causal", activation="relu", kernel_regularizer="l2"),
    lambda: L.Conv2D(6, (3, 2), dilation_rate=(2, 1), groups=2, use_bias=False, data_format="channels_first"),
    lambda: L.DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer="l1", activation="tanh"),
    lambda: L.SeparableConv2D(4, 3, depth_multiplier=2, pointwise_initializer="he_normal", bias_regularizer="l2"),
    lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, activity_regularizer="l1"),
    lambda: L.MaxPooling1D(3, strides=1, padding="same"), lambda: L.AveragePooling2D((2, 3), data_format="channels_first"),
    lambda: L.GlobalMaxPooling2D(keepdims=True), lambda: L.ZeroPadding2D(((1, 2), (3, 4))), lambda: L.UpSampling2D(3),
    lambda: L.Cropping2D((1, 2)),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert {**clone.get_config(), "name": config["name"]} == config
    model = fn.Sequential([fn.Input((8, 8, 4) if "1D" not in type(layer).__name__ else (9, 4)), make()])
    rebuilt = fn.Sequential.from_config(model.get_config())
    assert rebuilt.output_shape == model.output_shape


def test_padding_and_data_format_are_case_insensitive_and_keras_defaults():
    layer = L.Conv2D(2, 3, padding="SAME", data_format="Channels_Last")
    assert (layer.padding, layer.data_format) == ("same", "channels_last")
    assert L.Conv1D(2, 3, padding="Causal").padding == "causal"
    assert L.MaxPooling2D(padding="VALID").padding == "valid"
    assert L.MaxPooling2D(3).strides == (3, 3) and L.MaxPooling1D().pool_size == (2,)
    conv = L.Conv2D(2, 3)
    assert (conv.strides, conv.dilation_rate, conv.groups, conv.padding, conv.data_format) == ((1, 1), (1, 1), 1, "valid", "channels_last")
    assert L.ZeroPadding2D().padding == ((1, 1), (1, 1)) and L.ZeroPadding2D((2, 3)).padding == ((2, 2), (3, 3))
    assert L.Cropping2D().cropping == ((0, 0), (0, 0)) and L.UpSampling2D().size == (2, 2)


def test_conv_kernels_use_glorot_uniform_with_receptive_field_fans():
    layer = L.Conv2D(64, 3)
    layer.build((None, 8, 8, 32))
    kernel = layer.get_weights()[0]
    limit = math.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 64))
    assert kernel.shape == (3, 3, 32, 64) and np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert np.all(layer.get_weights()[1] == 0)
    transpose = L.Conv2DTranspose(16, 3)
    transpose.build((None, 4, 4, 32))
    limit = math.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 32))
    assert np.abs(transpose.get_weights()[0]).max() <= limit


def test_average_pooling_needs_a_pool_size_as_in_keras():
    for cls in (L.AveragePooling1D, L.AveragePooling2D):
        with pytest.raises(TypeError, match="pool_size"):
            cls()

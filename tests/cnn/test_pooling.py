"""Max/Average pooling 1D/2D, global pooling, ZeroPadding2D, UpSampling2D and Cropping2D against
the float64 NumPy reference (forward and input gradients), Keras's verified 5x5 values and the
layer contract."""

import numpy as np
import pytest

import ferronet as fn

from . import reference as ref
from .common import check_against_reference, check_layer, seeded_input

L = fn.layers
IMAGE = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)

POOL_CASES = {
    "max2d_default": (L.MaxPooling2D, (2, 5, 6, 3), dict()),
    "max2d_same_odd": (L.MaxPooling2D, (1, 5, 7, 2), dict(pool_size=2, padding="same")),
    "max2d_overlapping": (L.MaxPooling2D, (2, 7, 6, 2), dict(pool_size=3, strides=2)),
    "max2d_overlapping_same": (L.MaxPooling2D, (2, 6, 7, 2), dict(pool_size=(3, 2), strides=(2, 1), padding="Same")),
    "max2d_channels_first": (L.MaxPooling2D, (2, 3, 6, 5), dict(pool_size=2, padding="same", data_format="channels_first")),
    "avg2d_valid": (L.AveragePooling2D, (2, 6, 6, 3), dict(pool_size=2)),
    "avg2d_same_odd": (L.AveragePooling2D, (1, 5, 7, 2), dict(pool_size=2, padding="same")),
    "avg2d_overlapping_same": (L.AveragePooling2D, (2, 6, 5, 2), dict(pool_size=3, strides=2, padding="same")),
    "avg2d_stride1_same": (L.AveragePooling2D, (1, 4, 5, 1), dict(pool_size=(2, 3), strides=1, padding="same")),
    "avg2d_channels_first": (L.AveragePooling2D, (2, 2, 5, 5), dict(pool_size=2, padding="same", data_format="channels_first")),
    "max1d_default": (L.MaxPooling1D, (2, 7, 3), dict()),
    "max1d_same": (L.MaxPooling1D, (2, 7, 2), dict(pool_size=3, strides=2, padding="same")),
    "max1d_channels_first": (L.MaxPooling1D, (1, 2, 9), dict(pool_size=3, data_format="channels_first")),
    "avg1d_valid": (L.AveragePooling1D, (2, 8, 2), dict(pool_size=3, strides=1)),
    "avg1d_same": (L.AveragePooling1D, (2, 7, 3), dict(pool_size=2, padding="same")),
    "avg1d_channels_first": (L.AveragePooling1D, (1, 3, 7), dict(pool_size=2, strides=3, padding="same", data_format="channels_first")),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pooling_forward_and_gradients(case):
    cls, shape, kwargs = POOL_CASES[case]
    layer = cls(**kwargs)
    kind = "max" if "Max" in cls.__name__ else "avg"
    pool_size = kwargs.get("pool_size", 2 if "1D" in cls.__name__ else (2, 2))
    reference = lambda x: ref.pool(x, pool_size, kwargs.get("strides"), kwargs.get("padding", "valid").lower(), kind,
                                   kwargs.get("data_format") == "channels_first")
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


@pytest.mark.parametrize("cls", [L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling_forward_and_gradients(cls, keepdims, data_format):
    shape = (2, 5, 3) if "1D" in cls.__name__ else (2, 4, 5, 3)
    layer = cls(data_format=data_format, keepdims=keepdims)
    kind = "max" if "Max" in cls.__name__ else "avg"
    reference = lambda x: ref.global_pool(x, kind, keepdims, data_format == "channels_first")
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (2, *layer.compute_output_shape((None, *shape[1:]))[1:])


@pytest.mark.parametrize("make, reference, shape", [
    (lambda: L.ZeroPadding2D(), lambda x: ref.zero_pad(x, ((1, 1), (1, 1))), (2, 3, 4, 2)),
    (lambda: L.ZeroPadding2D((2, 0)), lambda x: ref.zero_pad(x, ((2, 2), (0, 0))), (1, 3, 3, 1)),
    (lambda: L.ZeroPadding2D(((1, 0), (2, 3)), data_format="channels_first"),
     lambda x: ref.zero_pad(x, ((1, 0), (2, 3)), channels_first=True), (2, 2, 3, 4)),
    (lambda: L.UpSampling2D(), lambda x: ref.upsample(x, (2, 2)), (2, 3, 2, 2)),
    (lambda: L.UpSampling2D((1, 3), data_format="channels_first"), lambda x: ref.upsample(x, (1, 3), channels_first=True), (1, 2, 3, 2)),
    (lambda: L.Cropping2D(1), lambda x: ref.crop(x, ((1, 1), (1, 1))), (2, 5, 4, 2)),
    (lambda: L.Cropping2D(((0, 2), (1, 0))), lambda x: ref.crop(x, ((0, 2), (1, 0))), (1, 4, 4, 3)),
    (lambda: L.Cropping2D((1, 2), data_format="channels_first"), lambda x: ref.crop(x, ((1, 1), (2, 2)), channels_first=True), (2, 2, 5, 6)),
])
def test_padding_upsampling_cropping_forward_and_gradients(make, reference, shape):
    layer = make()
    out = check_against_reference(layer, seeded_input(shape), reference)
    assert out.shape == (shape[0], *layer.compute_output_shape((None, *shape[1:]))[1:])


def test_pooling_keras_verified_values():
    np.testing.assert_allclose(L.AveragePooling2D(2, padding="same")(IMAGE).numpy()[0, :, :, 0],
                               [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]], rtol=1e-6)
    np.testing.assert_array_equal(L.MaxPooling2D()(IMAGE).numpy()[0, :, :, 0], [[6, 8], [16, 18]])
    np.testing.assert_array_equal(L.MaxPool2D(padding="same")(IMAGE).numpy()[0, :, :, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])


def test_max_pooling_of_all_negative_values_ignores_the_padding():
    x = -1.0 - IMAGE  # every value negative: a zero pad would win a max
    np.testing.assert_array_equal(L.MaxPooling2D(padding="same")(x).numpy(), ref.pool(x, 2, padding="same"))
    np.testing.assert_array_equal(L.MaxPooling1D(2, padding="same")(x[:, 0]).numpy(), ref.pool(x[:, 0].astype(np.float64), 2, padding="same"))


def test_max_pooling_propagates_nan():
    # NaN anywhere in a window gives NaN, wherever it sits (as NumPy, JAX and torch).
    n = np.nan
    x = np.array([[[n], [1.0], [1.0], [n], [n], [n], [-1.0], [2.0]]], np.float32)
    np.testing.assert_array_equal(L.MaxPooling1D(2)(x).numpy().ravel(), [n, n, n, 2.0])
    np.testing.assert_array_equal(L.MaxPooling1D(3, strides=1, padding="same")(x).numpy().ravel(), [n, n, n, n, n, n, n, 2.0])
    image = np.zeros((1, 4, 4, 1), np.float32)
    image[0, 0, 0, 0] = n
    np.testing.assert_array_equal(L.MaxPooling2D()(image).numpy()[0, :, :, 0], [[n, 0], [0, 0]])
    np.testing.assert_array_equal(L.GlobalMaxPooling2D()(image).numpy(), [[n]])


def test_pooling_layer_contract():
    check_layer(lambda: L.MaxPooling2D(padding="same"), (5, 5, 2), (3, 3, 2), [])
    check_layer(lambda: L.AveragePooling1D(3, strides=2), (9, 2), (4, 2), [])
    check_layer(lambda: L.GlobalAveragePooling2D(keepdims=True), (4, 4, 3), (1, 1, 3), [])
    check_layer(lambda: L.GlobalMaxPooling1D(), (6, 3), (3,), [])
    check_layer(lambda: L.ZeroPadding2D(((1, 0), (0, 2))), (3, 3, 1), (4, 5, 1), [])
    check_layer(lambda: L.UpSampling2D((2, 1)), (3, 3, 1), (6, 3, 1), [])
    check_layer(lambda: L.Cropping2D(((1, 0), (0, 1))), (4, 4, 2), (3, 3, 2), [])

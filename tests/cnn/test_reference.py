"""The float64 NumPy reference itself (no engine): Keras's verified 5x5 values, the adjoint
identity that defines the transposed convolution, and depthwise/grouped convolutions as
block-diagonal plain convolutions."""

import numpy as np
import pytest

from . import reference as ref

IMAGE = np.arange(25, dtype=np.float64).reshape(1, 5, 5, 1)


def test_reference_matches_keras_verified_values():
    np.testing.assert_allclose(ref.pool(IMAGE, 2, padding="same", kind="avg")[0, :, :, 0],
                               [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    np.testing.assert_allclose(ref.pool(IMAGE, 2, kind="max")[0, :, :, 0], [[6, 8], [16, 18]])
    np.testing.assert_allclose(ref.conv(IMAGE, np.ones((3, 3, 1, 1)), strides=2, padding="same")[0, :, :, 0],
                               [[12, 27, 24], [63, 108, 81], [72, 117, 84]])


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,kernel,stride,dilation,output_padding", [
    (5, 3, 1, 1, None), (4, 3, 2, 1, None), (4, 4, 2, 1, None), (3, 2, 3, 1, None), (5, 3, 1, 2, None),
    (4, 3, 2, 1, 1), (4, 4, 2, 1, 1), (3, 5, 3, 1, 2),
])
def test_reference_transpose_is_the_adjoint_of_conv(padding, size, kernel, stride, dilation, output_padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, size, size + 1, 3))
    k = rng.normal(size=(kernel, kernel, 2, 3))  # transpose: (kh, kw, filters=2, cin=3)
    y = ref.conv_transpose(x, k, strides=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    z = rng.normal(size=y.shape)
    forward = ref.conv(z, k, strides=stride, padding=padding, dilation=dilation)  # conv: (kh, kw, cin=2, filters=3)
    assert forward.shape == x.shape
    np.testing.assert_allclose(np.sum(forward * x), np.sum(z * y), rtol=1e-10)


def test_reference_depthwise_and_groups_are_block_diagonal_convs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 5, 3))
    k = rng.normal(size=(3, 2, 3, 2))
    dense = np.zeros((3, 2, 3, 6))
    for c in range(3):
        dense[:, :, c, 2 * c:2 * c + 2] = k[:, :, c, :]
    np.testing.assert_allclose(ref.depthwise_conv(x, k, padding="same"), ref.conv(x, dense, padding="same"), rtol=1e-12)
    grouped = rng.normal(size=(3, 3, 1, 6))
    np.testing.assert_allclose(ref.conv(x, grouped, groups=3), ref.depthwise_conv(x, grouped[:, :, 0, :].reshape(3, 3, 3, 2)),
                               rtol=1e-12)


def test_reference_causal_conv1d_sees_only_the_past():
    x = np.zeros((1, 6, 1))
    x[0, 3, 0] = 1.0
    y = ref.conv(x, np.ones((3, 1, 1)), padding="causal", dilation=2)
    assert y.shape == (1, 6, 1)
    assert y[0, :, 0].tolist() == [0, 0, 0, 1, 0, 1]

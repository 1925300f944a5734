"""Direct float64 NumPy references for the CNN layers, written from Keras's rules (keras-api.md
section 2), independent of the engine:

- padding: "valid" none; "same" total `max((out-1)*s + dil*(k-1)+1 - in, 0)`, `before = total // 2`
  (the extra on the right/bottom); "causal" `dil*(k-1)` before, none after.
- convolution is cross-correlation, summed kernel offset by kernel offset over strided slices of
  the padded input; kernels in Keras layouts (conv `(*k, cin/groups, filters)`, depthwise
  `(kh, kw, cin, mult)` giving channel `c*mult + m`, transpose `(kh, kw, filters, cin)`).
- the transposed convolution scatters each input pixel into a `(in-1)*s + dil*(k-1)+1` grid (the
  adjoint of a "valid" convolution), then keeps `out` positions from `crop` on (zeros past the
  grid), with Keras's `out` and `crop = 0` ("valid") or
  `max(0, (in-1)*s + dil*(k-1)+1 - out) // 2` ("same"); so it is the adjoint of a convolution
  with the same padding on an input of length `out`.
- average pooling with "same" divides by the number of real (unpadded) inputs in the window.

Every function takes and returns channels_last arrays unless `channels_first=True`.
"""

import itertools

import numpy as np

from ..helpers import NP_ACTIVATIONS


def to_last(x, channels_first):
    return np.moveaxis(x, 1, -1) if channels_first else x


def from_last(x, channels_first):
    return np.moveaxis(x, -1, 1) if channels_first else x


def out_length(length, kernel, stride, dilation, padding):
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (length - span) // stride + 1
    return -(-length // stride)


def pads(length, kernel, stride, dilation, padding):
    """(before, after) zero padding of one axis."""
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    total = max((out_length(length, kernel, stride, dilation, padding) - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def _windows(x, ksize, strides, padding, dilation, fill=0.0):
    """Yield (kernel offset, strided slice of the padded input) for every kernel offset; x is
    (N, *spatial, C). Also returns the padded-validity mask slices when `fill` is not 0."""
    spatial = x.shape[1:-1]
    widths = [pads(n, k, s, d, padding) for n, k, s, d in zip(spatial, ksize, strides, dilation)]
    outs = [out_length(n, k, s, d, padding) for n, k, s, d in zip(spatial, ksize, strides, dilation)]
    xp = np.pad(x, [(0, 0), *widths, (0, 0)], constant_values=fill)
    valid = np.pad(np.ones(spatial), widths)
    for offset in itertools.product(*[range(k) for k in ksize]):
        index = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offset, dilation, outs, strides))
        yield offset, xp[(slice(None), *index)], valid[index]


def activate(y, activation):
    return NP_ACTIVATIONS[activation or "linear"](y)


def conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1, activation=None, channels_first=False):
    """Keras ConvND: x (N, *spatial, C), kernel (*k, C // groups, F)."""
    x = to_last(np.asarray(x, np.float64), channels_first)
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    strides, dilation = _tuple(strides, rank), _tuple(dilation, rank)
    cin_g, filters = kernel.shape[-2], kernel.shape[-1]
    f_g = filters // groups
    y = None
    for offset, patch, _ in _windows(x, ksize, strides, padding, dilation):
        if y is None:
            y = np.zeros(patch.shape[:-1] + (filters,))
        for g in range(groups):
            y[..., g * f_g:(g + 1) * f_g] += patch[..., g * cin_g:(g + 1) * cin_g] @ kernel[offset][:, g * f_g:(g + 1) * f_g]
    if bias is not None:
        y = y + bias
    return from_last(activate(y, activation), channels_first)


def depthwise_conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, activation=None, channels_first=False):
    """Keras DepthwiseConv2D: kernel (kh, kw, C, M), output channel c*M + m."""
    x = to_last(np.asarray(x, np.float64), channels_first)
    channels, mult = kernel.shape[-2:]
    strides, dilation = _tuple(strides, 2), _tuple(dilation, 2)
    y = None
    for offset, patch, _ in _windows(x, kernel.shape[:2], strides, padding, dilation):
        term = patch[..., :, None] * kernel[offset]  # (..., C, M)
        y = term if y is None else y + term
    y = y.reshape(y.shape[:-2] + (channels * mult,))
    if bias is not None:
        y = y + bias
    return from_last(activate(y, activation), channels_first)


def separable_conv(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1, padding="valid", dilation=1, activation=None,
                   channels_first=False):
    """Keras SeparableConv2D: depthwise (no bias), then the 1x1 pointwise conv, bias, activation."""
    x = to_last(np.asarray(x, np.float64), channels_first)
    mid = depthwise_conv(x, depthwise_kernel, None, strides, padding, dilation)
    return from_last(conv(mid, pointwise_kernel, bias, activation=activation), channels_first)


def transpose_out_length(length, kernel, stride, dilation, padding, output_padding=None):
    span = dilation * (kernel - 1) + 1
    if output_padding is None:
        return length * stride + max(span - stride, 0) if padding == "valid" else length * stride
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


def conv_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1, activation=None,
                   channels_first=False):
    """Keras Conv2DTranspose: x (N, H, W, C), kernel (kh, kw, F, C)."""
    x = to_last(np.asarray(x, np.float64), channels_first)
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    strides, dilation = _tuple(strides, rank), _tuple(dilation, rank)
    output_padding = None if output_padding is None else _tuple(output_padding, rank)
    spatial = x.shape[1:-1]
    spans = [d * (k - 1) + 1 for k, d in zip(ksize, dilation)]
    full = [(n - 1) * s + span for n, s, span in zip(spatial, strides, spans)]
    outs = [transpose_out_length(n, k, s, d, padding, None if output_padding is None else output_padding[i])
            for i, (n, k, s, d) in enumerate(zip(spatial, ksize, strides, dilation))]
    crops = [0 if padding == "valid" else max(0, (n - 1) * s + span - o) // 2
             for n, s, span, o in zip(spatial, strides, spans, outs)]
    grid = np.zeros((x.shape[0], *[max(f, c + o) for f, c, o in zip(full, crops, outs)], kernel.shape[-2]))
    for offset in itertools.product(*[range(k) for k in ksize]):
        index = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offset, dilation, spatial, strides))
        grid[(slice(None), *index)] += x @ kernel[offset].T
    y = grid[(slice(None), *[slice(c, c + o) for c, o in zip(crops, outs)])]
    if bias is not None:
        y = y + bias
    return from_last(activate(y, activation), channels_first)


def pool(x, pool_size, strides=None, padding="valid", kind="max", channels_first=False):
    """Keras Max/AveragePoolingND ("same" average excludes the padding from the divisor)."""
    x = to_last(np.asarray(x, np.float64), channels_first)
    rank = x.ndim - 2
    pool_size = _tuple(pool_size, rank)
    strides = pool_size if strides is None else _tuple(strides, rank)
    ones = (1,) * rank
    if kind == "max":
        windows = [patch for _, patch, _ in _windows(x, pool_size, strides, padding, ones, fill=-np.inf)]
        y = np.max(windows, axis=0)
    else:
        total, count = 0.0, 0.0
        for _, patch, valid in _windows(x, pool_size, strides, padding, ones):
            total, count = total + patch, count + valid
        y = total / count[None, ..., None]
    return from_last(y, channels_first)


def global_pool(x, kind="avg", keepdims=False, channels_first=False):
    x = to_last(np.asarray(x, np.float64), channels_first)
    axes = tuple(range(1, x.ndim - 1))
    y = x.mean(axis=axes, keepdims=True) if kind == "avg" else x.max(axis=axes, keepdims=True)
    return from_last(y, channels_first) if keepdims else y.reshape(y.shape[0], -1)


def zero_pad(x, padding, channels_first=False):
    x = to_last(np.asarray(x, np.float64), channels_first)
    return from_last(np.pad(x, [(0, 0), *padding, (0, 0)]), channels_first)


def upsample(x, size, channels_first=False):
    x = to_last(np.asarray(x, np.float64), channels_first)
    return from_last(np.repeat(np.repeat(x, size[0], axis=1), size[1], axis=2), channels_first)


def crop(x, cropping, channels_first=False):
    x = to_last(np.asarray(x, np.float64), channels_first)
    (top, bottom), (left, right) = cropping
    return from_last(x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :], channels_first)


def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)

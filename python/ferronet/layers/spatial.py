"""What the convolution, pooling and padding layers share: Keras's argument rules
(`standardize_tuple`, `standardize_padding`, `standardize_data_format`), window geometry
(`compute_conv_output_shape`, `compute_conv_transpose_output_shape`) and `SpatialLayer`, the base
that checks input rank, the channel axis and the output size on every call."""

import numpy as np

from ferronet.layers.layer import Layer

_SPATIAL_AXES = {1: ("steps",), 2: ("height", "width")}


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_positive_int(owner, name, value):
    """`value` as an int > 0, else `"{owner}: expected {name} to be a positive int, got {name}=..."`."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{owner}: expected {name} to be a positive int, got {name}={value!r}")
    return int(value)


def standardize_tuple(owner, value, n, name, allow_zero=False):
    """`value` (an int, or `n` ints) as a tuple of `n` ints, each > 0 (>= 0 with `allow_zero`)."""
    kind = "non-negative" if allow_zero else "positive"
    error = ValueError(f"{owner}: expected {name} to be a {kind} int or a tuple of {n} {kind} ints, got {name}={value!r}")
    if _is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise error from None
        if len(values) != n or not all(_is_int(v) for v in values):
            raise error
        values = tuple(int(v) for v in values)
    if any(v < 0 or (v == 0 and not allow_zero) for v in values):
        raise error
    return values


def standardize_padding(owner, value, allowed=("valid", "same")):
    """A padding string, lower-cased (Keras accepts any case)."""
    if not isinstance(value, str) or value.lower() not in allowed:
        names = " or ".join(repr(a) for a in allowed)
        raise ValueError(f"{owner}: expected padding {names} (any case), got padding={value!r}")
    return value.lower()


def standardize_data_format(owner, value):
    """`None` -> "channels_last" (Keras's default image_data_format); any case accepted."""
    if value is None:
        return "channels_last"
    if not isinstance(value, str) or value.lower() not in ("channels_last", "channels_first"):
        raise ValueError(f"{owner}: expected data_format 'channels_last' or 'channels_first', got data_format={value!r}")
    return value.lower()


def standardize_pairs(owner, value, name):
    """ZeroPadding2D / Cropping2D amounts: int | (sym_h, sym_w) | ((top, bottom), (left, right))."""
    if _is_int(value):
        pair = standardize_tuple(owner, value, 2, name, allow_zero=True)
        return (pair, pair)
    try:
        rows, cols = value
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: expected {name} to be an int, a tuple of 2 ints or a tuple of 2 "
                         f"(before, after) tuples, got {name}={value!r}") from None
    return (standardize_tuple(owner, rows, 2, f"{name}[0]", allow_zero=True),
            standardize_tuple(owner, cols, 2, f"{name}[1]", allow_zero=True))


# ---- geometry (TF/XLA rules, as Keras) ------------------------------------------------------------

def conv_output_length(length, kernel, stride, dilation, padding):
    """valid: floor((in - dil*(k-1) - 1)/s) + 1; same and causal: ceil(in/s). None stays None."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (kernel - 1) - 1) // stride + 1
    return -(-length // stride)


def transpose_output_length(length, kernel, stride, dilation, padding, output_padding):
    """Keras's `compute_conv_transpose_output_length`."""
    if length is None:
        return None
    span = dilation * (kernel - 1) + 1
    if output_padding is None:
        return length * stride + max(span - stride, 0) if padding == "valid" else length * stride
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


class SpatialLayer(Layer):
    """Base of the layers over `rank` spatial axes and one channel axis (`data_format`).

    Every call (and every `Sequential.build`) checks the input rank, the channel count the layer was
    built for, and that the output has no empty axis, so each mistake is a `ValueError` naming the
    layer and the shapes before the engine runs.
    """

    rank = 2
    data_format = "channels_last"

    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    def _layout(self):
        axes = ("batch", "channels") + _SPATIAL_AXES[self.rank] if self._channels_first else ("batch",) + _SPATIAL_AXES[self.rank] + ("channels",)
        return "(" + ", ".join(axes) + ")"

    def _split(self, input_shape):
        """`(batch, [spatial...], channels)` of an input shape, after checking its rank."""
        shape = tuple(input_shape)
        if len(shape) != self.rank + 2:
            raise ValueError(f"{self.name}: expected input of rank {self.rank + 2} {self._layout()}, got shape {shape}")
        if self._channels_first:
            return shape[0], list(shape[2:]), shape[1]
        return shape[0], list(shape[1:-1]), shape[-1]

    def _join(self, batch, spatial, channels):
        return (batch, channels, *spatial) if self._channels_first else (batch, *spatial, channels)

    def _known_channels(self, input_shape):
        _, _, channels = self._split(input_shape)
        if channels is None:
            raise ValueError(f"{self.name}: expected a known channel axis {self._layout()}, got input shape {tuple(input_shape)}")
        return channels

    def _check_output(self, input_shape, spatial_out, what):
        if any(d is not None and d <= 0 for d in spatial_out):
            raise ValueError(f"{self.name}: {what} gives an empty output {tuple(spatial_out)} for input shape {tuple(input_shape)}")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # the rank and output-size checks
        self.built = True

    def _ensure_built(self, input_shape):
        super()._ensure_built(input_shape)
        expected = getattr(self, "_input_channels", None)
        _, _, channels = self._split(input_shape)
        if expected is not None and channels != expected:
            raise ValueError(f"{self.name}: expected input with {expected} channels {self._layout()}, got shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)

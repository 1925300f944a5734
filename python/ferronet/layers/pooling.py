"""MaxPooling1D/2D and AveragePooling1D/2D on the engine's pool op (Keras's window rules)."""

from ferronet import _core
from ferronet.layers.spatial import (SpatialLayer, conv_output_length, standardize_data_format, standardize_padding,
                                     standardize_tuple)


class BasePooling(SpatialLayer):
    """Windowed max or mean over the spatial axes, channel by channel (not used directly)."""

    _kind = "max"

    def __init__(self, rank, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.rank = rank
        self.pool_size = standardize_tuple(owner, pool_size, rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(owner, strides, rank, "strides")
        self.padding = standardize_padding(owner, padding)
        self.data_format = standardize_data_format(owner, data_format)

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        out = [conv_output_length(n, p, s, 1, self.padding) for n, p, s in zip(spatial, self.pool_size, self.strides)]
        self._check_output(input_shape, out, f"pool_size={self.pool_size}, strides={self.strides} with padding={self.padding!r}")
        return self._join(batch, out, channels)

    def _make_engine_layer(self):
        return _core.Layer.pool(self.name, {"rank": self.rank, "kind": self._kind, "pool_size": list(self.pool_size),
                                            "strides": list(self.strides), "padding": self.padding,
                                            "channels_first": self._channels_first, "global": False, "keepdims": False})

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                "data_format": self.data_format}


class MaxPooling1D(BasePooling):
    """Max over windows of `pool_size` steps.

    Args:
        pool_size: int or tuple of 1 int. Default 2.
        strides: int, tuple of 1 int, or None (default: `pool_size`).
        padding: "valid" (default) or "same" (output ceil(steps / strides)); any case.
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, pooled_steps, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.MaxPooling1D().compute_output_shape((None, 7, 3))
    (None, 3, 3)
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(1, pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling2D(BasePooling):
    """Max over `pool_size` windows of height and width.

    Args:
        pool_size: int or tuple of 2 ints. Default (2, 2).
        strides: int, tuple of 2 ints, or None (default: `pool_size`).
        padding: "valid" (default) or "same" (output ceil(size / strides), padding split with the
            extra on the bottom/right); any case.
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, pooled_height,
    pooled_width, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.MaxPooling2D().compute_output_shape((None, 26, 26, 32))
    (None, 13, 13, 32)
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(2, pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(BasePooling):
    """Mean over windows of `pool_size` steps. With "same" padding the padded positions are not
    counted: an edge window averages only the inputs it covers (Keras's rule).

    Args:
        pool_size: int or tuple of 1 int; required (Keras gives AveragePooling no default).
        strides: int, tuple of 1 int, or None (default: `pool_size`).
        padding: "valid" (default) or "same"; any case.
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, pooled_steps, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.AveragePooling1D(2, padding="same").compute_output_shape((None, 7, 3))
    (None, 4, 3)
    """

    _kind = "avg"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(1, pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(BasePooling):
    """Mean over `pool_size` windows of height and width. With "same" padding the padded positions
    are not counted (Keras's rule: on a 5x5 arange image `AveragePooling2D(2, padding="same")` gives
    `[[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]]`).

    Args:
        pool_size: int or tuple of 2 ints; required (Keras gives AveragePooling no default).
        strides: int, tuple of 2 ints, or None (default: `pool_size`).
        padding: "valid" (default) or "same"; any case.
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, pooled_height,
    pooled_width, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.AveragePooling2D(2, padding="same").compute_output_shape((None, 5, 5, 1))
    (None, 3, 3, 1)
    """

    _kind = "avg"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(2, pool_size, strides, padding, data_format, name=name, **kwargs)

"""GlobalAveragePooling1D/2D and GlobalMaxPooling1D/2D: one value per channel."""

from ferronet import _core
from ferronet.layers.spatial import SpatialLayer, standardize_data_format


class BaseGlobalPooling(SpatialLayer):
    """Max or mean over all spatial axes (not used directly)."""

    _kind = "avg"

    def __init__(self, rank, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.rank = rank
        self.data_format = standardize_data_format(owner, data_format)
        if not isinstance(keepdims, bool):
            raise ValueError(f"{owner}: expected keepdims to be a bool, got keepdims={keepdims!r}")
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        self._check_output(input_shape, spatial, "pooling over an empty axis")
        if self.keepdims:
            return self._join(batch, [1] * self.rank, channels)
        return (batch, channels)

    def _make_engine_layer(self):
        return _core.Layer.pool(self.name, {"rank": self.rank, "kind": self._kind, "pool_size": [], "strides": [],
                                            "padding": "valid", "channels_first": self._channels_first, "global": True,
                                            "keepdims": self.keepdims})

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the steps axis with length 1. Default False.

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, channels)` (keepdims:
    `(batch, 1, channels)`).

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GlobalAveragePooling1D().compute_output_shape((None, 10, 4))
    (None, 4)
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the spatial axes with length 1. Default False.

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, channels)` (keepdims:
    `(batch, 1, 1, channels)`).

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GlobalAveragePooling2D(keepdims=True).compute_output_shape((None, 5, 5, 8))
    (None, 1, 1, 8)
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over the steps.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the steps axis with length 1. Default False.

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GlobalMaxPooling1D(data_format="channels_first").compute_output_shape((None, 4, 10))
    (None, 4)
    """

    _kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the spatial axes with length 1. Default False.

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.GlobalMaxPooling2D().compute_output_shape((None, 5, 5, 8))
    (None, 8)
    """

    _kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)

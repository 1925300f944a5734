"""UpSampling2D: repeat each row and column of an image (nearest neighbour)."""

from ferronet import _core
from ferronet.layers.spatial import SpatialLayer, standardize_data_format, standardize_tuple

_NOT_YET = ("bilinear", "bicubic", "lanczos3", "lanczos5", "area")


class UpSampling2D(SpatialLayer):
    """Repeat rows `size[0]` times and columns `size[1]` times.

    Args:
        size: int or tuple of 2 positive ints. Default (2, 2).
        data_format: "channels_last" (default) or "channels_first".
        interpolation: "nearest" (default; the only one supported yet).

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, height * size[0],
    width * size[1], channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.UpSampling2D((2, 3)).compute_output_shape((None, 4, 4, 1))
    (None, 8, 12, 1)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.size = standardize_tuple(owner, size, 2, "size")
        self.data_format = standardize_data_format(owner, data_format)
        if isinstance(interpolation, str) and interpolation.lower() in _NOT_YET:
            raise NotImplementedError(f"{owner}: interpolation={interpolation!r} is not supported yet (only 'nearest')")
        if not isinstance(interpolation, str) or interpolation.lower() != "nearest":
            raise ValueError(f"{owner}: expected interpolation 'nearest', got interpolation={interpolation!r}")
        self.interpolation = "nearest"

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        out = [None if n is None else n * s for n, s in zip(spatial, self.size)]
        return self._join(batch, out, channels)

    def _make_engine_layer(self):
        return _core.Layer.upsampling(self.name, list(self.size), self._channels_first)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format, "interpolation": self.interpolation}

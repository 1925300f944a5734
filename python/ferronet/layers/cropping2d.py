"""Cropping2D: drop rows above/below and columns left/right of each image."""

from ferronet import _core
from ferronet.layers.spatial import SpatialLayer, standardize_data_format, standardize_pairs


class Cropping2D(SpatialLayer):
    """Crop height and width.

    Args:
        cropping: int (all four sides), tuple of 2 ints `(rows, cols)` (symmetric), or
            `((top, bottom), (left, right))`. Default ((0, 0), (0, 0)).
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, height - top - bottom,
    width - left - right, channels)`; each must stay positive.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Cropping2D(((2, 2), (4, 4))).compute_output_shape((None, 28, 28, 3))
    (None, 24, 20, 3)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.cropping = standardize_pairs(owner, cropping, "cropping")
        self.data_format = standardize_data_format(owner, data_format)

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        out = [None if n is None else n - sum(crop) for n, crop in zip(spatial, self.cropping)]
        self._check_output(input_shape, out, f"cropping={self.cropping}")
        return self._join(batch, out, channels)

    def _make_engine_layer(self):
        return _core.Layer.cropping(self.name, [list(c) for c in self.cropping], self._channels_first)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}

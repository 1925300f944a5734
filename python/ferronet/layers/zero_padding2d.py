"""ZeroPadding2D: rows of zeros above/below and columns left/right of each image."""

from ferronet import _core
from ferronet.layers.spatial import SpatialLayer, standardize_data_format, standardize_pairs


class ZeroPadding2D(SpatialLayer):
    """Pad height and width with zeros.

    Args:
        padding: int (all four sides), tuple of 2 ints `(rows, cols)` (symmetric), or
            `((top, bottom), (left, right))`. Default (1, 1).
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, top + height + bottom,
    left + width + right, channels)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.ZeroPadding2D(((1, 0), (2, 3))).compute_output_shape((None, 4, 4, 1))
    (None, 5, 9, 1)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.padding = standardize_pairs(owner, padding, "padding")
        self.data_format = standardize_data_format(owner, data_format)

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        out = [None if n is None else n + sum(pad) for n, pad in zip(spatial, self.padding)]
        return self._join(batch, out, channels)

    def _make_engine_layer(self):
        return _core.Layer.zero_padding(self.name, [list(p) for p in self.padding], self._channels_first)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}

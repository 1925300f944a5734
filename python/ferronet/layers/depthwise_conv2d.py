"""DepthwiseConv2D: each input channel convolved with its own `depth_multiplier` filters."""

from ferronet import _core, initializers, regularizers
from ferronet.layers.conv import ConvLayer
from ferronet.layers.spatial import check_positive_int


class DepthwiseConv2D(ConvLayer):
    """Depthwise 2-D convolution: channel `c` is convolved with `kernel[:, :, c, m]` for each
    `m < depth_multiplier`, giving output channel `c * depth_multiplier + m`.

    Args:
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints. Default (1, 1). `strides > 1` excludes `dilation_rate > 1`.
        padding: "valid" (default) or "same"; any case.
        depth_multiplier: positive int, filters per input channel. Default 1.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 2 ints. Default (1, 1).
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias per output channel. Default True.
        depthwise_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        depthwise_regularizer, bias_regularizer, activity_regularizer: as `Dense`.

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, new_height, new_width,
    channels * depth_multiplier)`. Kernel: `(kh, kw, channels, depth_multiplier)`; bias
    `(channels * depth_multiplier,)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same").compute_output_shape((None, 8, 8, 3))
    (None, 8, 8, 6)
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.depth_multiplier = check_positive_int(type(self).__name__, "depth_multiplier", depth_multiplier)
        self._setup_window(2, kernel_size, strides, padding, data_format, dilation_rate)
        self._setup_output(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                           depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)

    def _output_channels(self, in_channels):
        return None if in_channels is None else in_channels * self.depth_multiplier

    def build(self, input_shape):
        channels = self._known_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer)
        self.bias = self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer) if self.use_bias else None
        self._input_channels = channels
        self.built = True

    def _make_engine_layer(self):
        config = self._engine_config("depthwise", self.depthwise_regularizer, self.bias_regularizer, self.activity_regularizer)
        return _core.Layer.conv(self.name, self.kernel, self.bias, self._activation_name, config)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, **self._window_config(), **self._output_config(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "depthwise_constraint": None, "bias_constraint": None}

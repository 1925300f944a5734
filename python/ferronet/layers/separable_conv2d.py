"""SeparableConv2D: a depthwise convolution, then a 1x1 pointwise convolution mixing channels."""

from ferronet import _core, initializers, regularizers
from ferronet.layers.conv import ConvLayer
from ferronet.layers.spatial import check_positive_int


class SeparableConv2D(ConvLayer):
    """Depthwise separable 2-D convolution: `DepthwiseConv2D(kernel_size, strides, padding,
    depth_multiplier, dilation_rate)` without bias or activation, then a 1x1 convolution to
    `filters` channels with the bias and the activation.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 2 ints (the depthwise window).
        strides: int or tuple of 2 ints. Default (1, 1). `strides > 1` excludes `dilation_rate > 1`.
        padding: "valid" (default) or "same"; any case.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 2 ints. Default (1, 1).
        depth_multiplier: positive int, depthwise filters per input channel. Default 1.
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias per filter. Default True.
        depthwise_initializer, pointwise_initializer: default "glorot_uniform".
        bias_initializer: default "zeros".
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer: as `Dense`.

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, new_height, new_width,
    filters)`. Weights (Keras order): depthwise_kernel `(kh, kw, channels, depth_multiplier)`,
    pointwise_kernel `(1, 1, channels * depth_multiplier, filters)`, bias `(filters,)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.SeparableConv2D(8, 3, strides=2, padding="same").compute_output_shape((None, 9, 9, 3))
    (None, 5, 5, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check_positive_int(owner, "filters", filters)
        self.depth_multiplier = check_positive_int(owner, "depth_multiplier", depth_multiplier)
        self._setup_window(2, kernel_size, strides, padding, data_format, dilation_rate)
        self._setup_output(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                           depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                           bias_constraint=bias_constraint)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape):
        channels = self._known_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight("depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
                                                self.depthwise_initializer)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (1, 1, channels * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None
        self._input_channels = channels
        self.built = True

    def _make_engine_layer(self):
        depthwise = _core.Layer.conv(f"{self.name}/depthwise", self.depthwise_kernel, None, "linear",
                                     self._engine_config("depthwise", self.depthwise_regularizer, None, None))
        pointwise_config = self._engine_config("conv", self.pointwise_regularizer, self.bias_regularizer, self.activity_regularizer,
                                               strides=(1, 1), padding="valid", dilation=(1, 1))
        pointwise = _core.Layer.conv(f"{self.name}/pointwise", self.pointwise_kernel, self.bias, self._activation_name, pointwise_config)
        return _core.Layer.sequence(self.name, [depthwise, pointwise])

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, "filters": self.filters, **self._window_config(),
                **self._output_config(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "depthwise_constraint": None, "pointwise_constraint": None, "bias_constraint": None}

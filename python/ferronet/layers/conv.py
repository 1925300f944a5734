"""Conv1D and Conv2D on the engine's conv op, and `ConvLayer`, the base every convolution layer
(plain, depthwise, separable, transposed) shares: window arguments, activation, bias, regularizers,
output shape and the engine config."""

from ferronet import _core, activations, initializers, regularizers
from ferronet.layers.spatial import (SpatialLayer, check_positive_int, conv_output_length, standardize_data_format,
                                     standardize_padding, standardize_tuple)


class ConvLayer(SpatialLayer):
    """Shared parts of the convolution layers (not used directly)."""

    _native_activity = True  # the engine's convolution applies activity_regularizer itself

    def _setup_window(self, rank, kernel_size, strides, padding, data_format, dilation_rate, allowed_padding=("valid", "same")):
        owner = type(self).__name__
        self.rank = rank
        self.kernel_size = standardize_tuple(owner, kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(owner, strides, rank, "strides")
        self.dilation_rate = standardize_tuple(owner, dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(owner, padding, allowed_padding)
        self.data_format = standardize_data_format(owner, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{owner}: strides > 1 is not supported together with dilation_rate > 1 (as in Keras), "
                             f"got strides={self.strides}, dilation_rate={self.dilation_rate}")

    def _setup_output(self, activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer, **constraints):
        owner = type(self).__name__
        for arg, value in constraints.items():
            if value is not None:
                raise NotImplementedError(f"{owner}: {arg} is not supported yet")
        self.activation = activations.get(activation)
        self._activation_name = activations.serialize(self.activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._input_channels = None

    # ---- shapes ---------------------------------------------------------------------------------
    def _output_length(self, length, axis):
        return conv_output_length(length, self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis], self.padding)

    def _output_channels(self, in_channels):
        return self.filters

    def compute_output_shape(self, input_shape):
        batch, spatial, channels = self._split(input_shape)
        out = [self._output_length(n, axis) for axis, n in enumerate(spatial)]
        self._check_output(input_shape, out, f"kernel_size={self.kernel_size}, strides={self.strides}, "
                                             f"dilation_rate={self.dilation_rate} with padding={self.padding!r}")
        return self._join(batch, out, self._output_channels(channels))

    # ---- engine ---------------------------------------------------------------------------------
    def _engine_config(self, kind, kernel_regularizer, bias_regularizer, activity_regularizer, groups=1, output_padding=None,
                       strides=None, padding=None, dilation=None):
        return {"rank": self.rank, "kind": kind,
                "strides": list(self.strides if strides is None else strides),
                "padding": self.padding if padding is None else padding,
                "dilation": list(self.dilation_rate if dilation is None else dilation),
                "groups": groups, "channels_first": self._channels_first,
                "output_padding": None if output_padding is None else list(output_padding),
                "kernel_regularizer": regularizers.spec(kernel_regularizer),
                "bias_regularizer": regularizers.spec(bias_regularizer),
                "activity_regularizer": regularizers.spec(activity_regularizer)}

    def _window_config(self):
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate}

    def _output_config(self):
        return {"activation": self._activation_name, "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


class BaseConv(ConvLayer):
    """Keras's N-D convolution (cross-correlation): `activation(conv(inputs, kernel) + bias)`.

    Kernel `(*kernel_size, in_channels // groups, filters)`, bias `(filters,)`, Keras's layouts.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check_positive_int(owner, "filters", filters)
        self.groups = check_positive_int(owner, "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"{owner}: expected filters divisible by groups, got filters={filters}, groups={groups}")
        allowed = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        self._setup_window(rank, kernel_size, strides, padding, data_format, dilation_rate, allowed)
        self._setup_output(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                           kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = self._known_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{self.name}: expected input channels divisible by groups={self.groups}, got input shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None
        self._input_channels = channels
        self.built = True

    def _make_engine_layer(self):
        config = self._engine_config("conv", self.kernel_regularizer, self.bias_regularizer, self.activity_regularizer, groups=self.groups)
        return _core.Layer.conv(self.name, self.kernel, self.bias, self._activation_name, config)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._window_config(), "groups": self.groups,
                **self._output_config(), "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": None, "bias_constraint": None}


class Conv1D(BaseConv):
    """1-D convolution over steps (temporal convolution).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 1 int, the window length.
        strides: int or tuple of 1 int. Default 1. `strides > 1` excludes `dilation_rate > 1`.
        padding: "valid" (default), "same" (output length ceil(steps / strides), padding split
            before/after with the extra after) or "causal" (zeros only before: output step t sees
            inputs up to t); any case.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 1 int. Default 1.
        groups: positive int dividing both the input channels and `filters`. Default 1.
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias per filter. Default True.
        kernel_initializer: default "glorot_uniform" (fans: kernel_size x channels).
        bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer, activity_regularizer: as `Dense`.

    Input shape: `(batch, steps, channels)` (channels_first: `(batch, channels, steps)`).
    Output shape: `(batch, new_steps, filters)`. Kernel: `(kernel_size, channels // groups, filters)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Conv1D(4, 3, padding="causal").compute_output_shape((None, 10, 2))
    (None, 10, 4)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(BaseConv):
    """2-D convolution over height and width.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 2 ints, the window height and width.
        strides: int or tuple of 2 ints. Default (1, 1). `strides > 1` excludes `dilation_rate > 1`.
        padding: "valid" (default) or "same" (output ceil(size / strides), padding split
            before/after with the extra on the bottom/right); any case.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 2 ints. Default (1, 1).
        groups: positive int dividing both the input channels and `filters`. Default 1.
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias per filter. Default True.
        kernel_initializer: default "glorot_uniform" (fans: kh x kw x channels).
        bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer, activity_regularizer: as `Dense`.

    Input shape: `(batch, height, width, channels)` (channels_first: `(batch, channels, height,
    width)`). Output shape: `(batch, new_height, new_width, filters)`.
    Kernel: `(kh, kw, channels // groups, filters)`; bias `(filters,)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Conv2D(32, 3, activation="relu").compute_output_shape((None, 28, 28, 1))
    (None, 26, 26, 32)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1), groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)

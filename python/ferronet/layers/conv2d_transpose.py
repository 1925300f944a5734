"""Conv2DTranspose: the adjoint (gradient) of Conv2D, used to upsample."""

from ferronet import _core, initializers, regularizers
from ferronet.layers.conv import ConvLayer
from ferronet.layers.spatial import check_positive_int, standardize_tuple, transpose_output_length


class Conv2DTranspose(ConvLayer):
    """Transposed 2-D convolution: each input pixel adds `kernel`-weighted copies into a
    `strides`-spaced output grid; the output is then cropped per `padding` (Keras's rules).

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints. Default (1, 1). `strides > 1` excludes `dilation_rate > 1`.
        padding: "valid" (default; output `in * s + max(k - s, 0)`) or "same" (output `in * s`);
            any case.
        output_padding: None (default) or int / tuple of 2 ints, each smaller than its stride; when
            given the output is `(in - 1) * s + k - 2 * pad + output_padding`, pad `k // 2` for
            "same" and 0 for "valid" (k the dilated kernel size).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 2 ints. Default (1, 1).
        activation: a name or a function of `ferronet.activations`; default None (linear).
        use_bias: add a bias per filter. Default True.
        kernel_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer, activity_regularizer: as `Dense`.

    Input shape: `(batch, height, width, channels)`. Output shape: `(batch, new_height, new_width,
    filters)`. Kernel: `(kh, kw, filters, channels)` (Keras's layout); bias `(filters,)`.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.Conv2DTranspose(4, 3, strides=2, padding="same").compute_output_shape((None, 7, 7, 8))
    (None, 14, 14, 4)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check_positive_int(owner, "filters", filters)
        self._setup_window(2, kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(owner, output_padding, 2, "output_padding", allow_zero=True)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"{owner}: expected output_padding smaller than strides, "
                                 f"got output_padding={self.output_padding}, strides={self.strides}")
        self._setup_output(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                           kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def _output_length(self, length, axis):
        output_padding = None if self.output_padding is None else self.output_padding[axis]
        return transpose_output_length(length, self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis],
                                       self.padding, output_padding)

    def build(self, input_shape):
        channels = self._known_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None
        self._input_channels = channels
        self.built = True

    def _make_engine_layer(self):
        config = self._engine_config("transpose", self.kernel_regularizer, self.bias_regularizer, self.activity_regularizer,
                                     output_padding=self.output_padding)
        return _core.Layer.conv(self.name, self.kernel, self.bias, self._activation_name, config)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._window_config(), "output_padding": self.output_padding,
                **self._output_config(), "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": None, "bias_constraint": None}

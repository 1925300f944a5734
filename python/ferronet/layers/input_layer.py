"""`Input(shape)`: declares a model's input shape (without the batch axis)."""

from ferronet.layers.layer import Layer


class InputLayer(Layer):
    """The input of a model: a shape (without the batch axis), no weights.

    Example:
    >>> import ferronet as fn
    >>> fn.layers.InputLayer(shape=(4,)).batch_shape
    (None, 4)
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, sparse=None, ragged=None, **kwargs):
        if sparse or ragged:
            raise NotImplementedError("InputLayer: sparse and ragged inputs are not supported")
        kwargs.pop("input_tensor", None)
        kwargs.pop("optional", None)
        super().__init__(name=name or None, dtype=dtype, **kwargs)
        if batch_shape is not None:
            shape, batch_size = tuple(batch_shape[1:]), batch_shape[0]
        if shape is None:
            raise ValueError("InputLayer: expected a shape, got shape=None")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if any(d is not None and (not isinstance(d, int) or d <= 0) for d in shape):
            raise ValueError(f"InputLayer: expected positive int dimensions, got shape={shape}")
        self.batch_shape = (batch_size,) + shape
        self.shape = self.batch_shape
        self.built = True

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": "float32", "sparse": False, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
    """Declare a model input; `Sequential([Input((4,)), ...])` builds the model at once.

    Example:
    >>> import ferronet as fn
    >>> fn.Input((8,)).shape
    (None, 8)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name or _input_name(), **kwargs)


def _input_name():
    from ferronet._naming import unique_name

    return unique_name("input_layer")

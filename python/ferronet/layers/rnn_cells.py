"""Keras's RNN cells (`SimpleRNNCell`, `LSTMCell`, `GRUCell`) and the generic `RNN(cell)` layer.

In ferronet a cell describes one step and `RNN(cell)` runs it over the sequence with the same
fused kernels as `SimpleRNN`, `LSTM` and `GRU` (so `RNN(LSTMCell(32))` and `LSTM(32)` are the
same computation and the same weights). A cell is not run on its own: the engine has no
per-step path, by design (the per-step overhead is what the fused loop removes).
"""

from ferronet._naming import to_snake_case, unique_name
from ferronet.layers.gru import GRU
from ferronet.layers.layer import Layer
from ferronet.layers.lstm import LSTM
from ferronet.layers.simple_rnn import SimpleRNN

# The options that belong to the RNN layer, not to the cell.
_LAYER_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
                  "activity_regularizer")


class _Cell:
    """Base of the cells: the step's configuration, checked by building the fused layer once."""

    _layer = None  # SimpleRNN, LSTM or GRU

    def __init__(self, units, name=None, trainable=True, dtype=None, **kwargs):
        bad = sorted(set(kwargs) & set(_LAYER_OPTIONS))
        if bad:
            raise TypeError(f"{type(self).__name__}: {bad} are options of layers.RNN, not of the cell")
        # Validates units and every cell argument with the fused layer's own checks.
        probe = self._layer(units, dtype=dtype, name="cell_probe", **kwargs)  # named: no counter taken
        config = probe.get_config()
        self.units = units
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.trainable = trainable
        # The cell's own arguments (units included), as the fused layer's config spells them.
        self._config = {k: v for k, v in config.items() if k not in _LAYER_OPTIONS + ("name", "trainable", "dtype")}

    @property
    def state_size(self):
        return [self.units, self.units] if self._layer is LSTM else self.units

    @property
    def output_size(self):
        return self.units

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__}: a cell runs inside layers.RNN, which fuses the whole sequence; "
                        f"use layers.RNN({type(self).__name__}(...)) or layers.{self._layer.__name__}(...)")

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32", **self._config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_constraint", "recurrent_constraint", "bias_constraint", "implementation"):
            config.pop(key, None)
        return cls(**config)


class SimpleRNNCell(_Cell):
    """The step of `SimpleRNN`; arguments as `SimpleRNN`'s cell arguments (units, activation,
    use_bias, initializers, regularizers, dropout, recurrent_dropout, seed)."""

    _layer = SimpleRNN


class LSTMCell(_Cell):
    """The step of `LSTM` (adds recurrent_activation and unit_forget_bias).

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.RNN(fn.layers.LSTMCell(4))(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    _layer = LSTM


class GRUCell(_Cell):
    """The step of `GRU` (adds recurrent_activation and reset_after)."""

    _layer = GRU


CELLS = {cls.__name__: cls for cls in (SimpleRNNCell, LSTMCell, GRUCell)}


class RNN(Layer):
    """Keras's generic recurrent layer over a cell: `RNN(LSTMCell(32), return_sequences=True)` is
    `LSTM(32, return_sequences=True)`.

    Args:
        cell: a `SimpleRNNCell`, `LSTMCell` or `GRUCell` (a list of cells, Keras's stacked cells,
            is not supported: stack RNN layers instead).
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask: as
            for `LSTM`.

    Weights live on the layer, in the cell's order (kernel, recurrent_kernel, bias); in `.keras`
    files under the cell, as Keras writes them.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            raise NotImplementedError("RNN: stacked cells (a list of cells) are not supported; stack RNN layers instead")
        if not isinstance(cell, _Cell):
            raise ValueError(f"RNN: expected a SimpleRNNCell, LSTMCell or GRUCell, got {cell!r}")
        super().__init__(**kwargs)
        self.cell = cell
        options = dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                       stateful=stateful, unroll=unroll, zero_output_for_mask=zero_output_for_mask)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self._options = options
        self._inner = cell._layer(name=self.name, **cell._config, **options)

    def build(self, input_shape):
        self._inner._ensure_built(tuple(input_shape))
        self._weights = self._inner._weights
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._inner.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return self._inner.compute_mask(inputs, mask)

    def _make_engine_layer(self):
        return self._inner._engine_layer()

    @Layer.trainable.setter
    def trainable(self, value):
        self._inner.trainable = value
        Layer.trainable.fset(self, value)

    def __call__(self, inputs, initial_state=None, mask=None, training=False):
        self._ensure_built((None,) + tuple(getattr(inputs, "shape", ())[1:]))
        return self._inner(inputs, initial_state=initial_state, mask=mask, training=training)

    @property
    def states(self):
        return self._inner.states

    def reset_states(self):
        self._inner.reset_states()

    def get_config(self):
        return {**super().get_config(), **self._options,
                "cell": {"module": "keras.layers", "class_name": type(self.cell).__name__, "config": self.cell.get_config(),
                         "registered_name": None}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        cell = config.pop("cell")
        if not isinstance(cell, dict) or cell.get("class_name") not in CELLS:
            raise ValueError(f"RNN: expected a cell among {sorted(CELLS)}, got {cell!r}"[:200])
        return cls(CELLS[cell["class_name"]].from_config(cell.get("config", {})), **config)

"""The recurrent layers' shared machinery (Keras's `RNN` options on SimpleRNN, LSTM and GRU):
weights in Keras's layout, the engine's fused sequence kernel, initial and carried states,
`return_sequences` / `return_state` / `go_backwards` / `stateful`, and timestep masks."""

import warnings

import numpy as np

from ferronet import _core, _random, activations, initializers, regularizers
from ferronet.layers.layer import Layer


def _check_rate(owner, name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: expected {name} in [0, 1), got {name}={value!r}")
    return float(value)


class RecurrentBase(Layer):
    """Base of SimpleRNN, LSTM and GRU. Subclasses set `_cell` ("simple_rnn", "lstm", "gru"),
    `_gates` (1, 4, 3) and may extend `_cell_config` and `_bias_values`."""

    _cell = None
    _gates = 1
    _native_activity = True  # the engine layer applies activity_regularizer itself

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{owner}: expected units to be a positive int, got units={units!r}")
        for arg, value in (("kernel_constraint", kernel_constraint), ("recurrent_constraint", recurrent_constraint),
                           ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{owner}: {arg} is not supported yet")
        self.units = units
        self.activation = activations.get(activation)
        self._activation_name = activations.serialize(self.activation)
        if self._activation_name == "softmax":
            raise ValueError(f"{owner}: expected an elementwise activation, got activation='softmax'")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.dropout = _check_rate(owner, "dropout", dropout)
        self.recurrent_dropout = _check_rate(owner, "recurrent_dropout", recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras parity: the engine's loop is always fused
        self.seed = seed
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._rnn = None

    def _set_recurrent_activation(self, recurrent_activation):
        """The gates' activation (LSTM, GRU); softmax is refused here, not at the first call."""
        self.recurrent_activation = activations.get(recurrent_activation)
        self._recurrent_activation_name = activations.serialize(self.recurrent_activation)
        if self._recurrent_activation_name == "softmax":
            raise ValueError(f"{type(self).__name__}: expected an elementwise recurrent_activation, "
                             f"got recurrent_activation='softmax'")

    # ---- weights -------------------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expected a 3-D input (batch, timesteps, features) with known features, "
                             f"got input shape {input_shape}")
        width = self._gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer)
        self.bias = self.add_weight("bias", self._bias_shape(), lambda shape: self._bias_values(shape)) if self.use_bias else None
        self.built = True

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_values(self, shape):
        return self.bias_initializer(shape)

    # ---- shapes --------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._state_count()
        return out

    def _state_count(self):
        return 2 if self._cell == "lstm" else 1

    # ---- the engine ----------------------------------------------------------------------------
    def _cell_config(self):
        return {"activation": self._activation_name}

    def _engine_config(self, **overrides):
        config = {
            **self._cell_config(),
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "zero_output_for_mask": self.zero_output_for_mask,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "kernel_regularizer": regularizers.spec(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.spec(self.recurrent_regularizer),
            "bias_regularizer": regularizers.spec(self.bias_regularizer),
            "activity_regularizer": regularizers.spec(self.activity_regularizer),
        }
        config.update(overrides)
        return config

    def _recurrent_engine(self):
        """The engine's `RecurrentLayer` (made once; shares the weight tensors)."""
        if self._rnn is None:
            self._rnn = _core.RecurrentLayer.rnn(self.name, self._cell, self.kernel, self.recurrent_kernel, self.bias,
                                                 self._engine_config())
        return self._rnn

    def _make_engine_layer(self):
        return self._recurrent_engine().layer()

    def __call__(self, inputs, initial_state=None, mask=None, training=False):
        """Run on `inputs` (batch, timesteps, features). `initial_state`: a list of (batch, units)
        arrays (`[h]`, or `[h, c]` for an LSTM); `mask`: (batch, timesteps), true where a step is
        real. Returns the output, or `[output, *states]` with `return_state`."""
        x = inputs if isinstance(inputs, _core.Tensor) else _core.Tensor(np.asarray(inputs, dtype=np.float32))
        check_sequence_input(self.name, x)
        self._ensure_built((None,) + tuple(x.shape[1:]))
        self._engine_layer()  # made once, with the frozen flag set
        engine = self._recurrent_engine()
        states = _as_state_list(initial_state)
        mask = None if mask is None else np.asarray(mask, dtype=np.float32)
        seed = _random.next_seed() if training else 0
        outputs, final = engine.run(x, states, mask, bool(training), seed)
        if self.return_state:
            return [*outputs, *final]
        return outputs[0]

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return mask if self.return_sequences else None

    # ---- stateful ------------------------------------------------------------------------------
    @property
    def states(self):
        """A stateful layer's carried states as NumPy arrays (None until its first batch)."""
        if self._rnn is None:
            return None
        carried = self._rnn.states()
        return None if carried is None else [_core.to_numpy(s) for s in carried]

    def reset_states(self):
        """Start the next batch of a stateful layer from zero states."""
        if self._rnn is not None:
            self._rnn.reset_states()

    reset_state = reset_states

    # ---- config --------------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "units": self.units,
            "activation": self._activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        for key in ("kernel_constraint", "recurrent_constraint", "bias_constraint"):
            config.pop(key, None)
        return cls(**config)


def check_sequence_input(name, x):
    """A direct call's input must be (batch, timesteps, features). Checked here, before `build`,
    so the message names the shape received (build only sees it with the batch as None)."""
    if len(x.shape) != 3:
        raise _core.ShapeError(f"{name}: expected a 3-D input (batch, timesteps, features), got input of shape {tuple(x.shape)}")


def _as_state_list(initial_state):
    if initial_state is None:
        return None
    if not isinstance(initial_state, (list, tuple)):
        initial_state = [initial_state]
    return [s if isinstance(s, _core.Tensor) else np.asarray(s, dtype=np.float32) for s in initial_state]


def pop_ignored(owner, kwargs, names):
    """Drop Keras arguments that select an implementation, not a behaviour (`use_cudnn`,
    `implementation`): every ferronet path computes the same function."""
    for name in names:
        if name in kwargs:
            value = kwargs.pop(name)
            if name == "implementation" and value not in (1, 2):
                raise ValueError(f"{owner}: expected implementation 1 or 2, got {value!r}")


def warn_deprecated(owner, kwargs, name):
    if name in kwargs:
        kwargs.pop(name)
        warnings.warn(f"{owner}: argument `{name}` is deprecated. Just remove it.", stacklevel=3)

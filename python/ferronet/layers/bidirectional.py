"""Bidirectional: a recurrent layer run forwards and a copy run backwards, outputs merged."""

import numpy as np

from ferronet import _core, _random
from ferronet.layers.layer import Layer
from ferronet.layers.rnn import RecurrentBase, _as_state_list, check_sequence_input

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Bidirectional wrapper for SimpleRNN, LSTM and GRU.

    Args:
        layer: the forward recurrent layer (its config is copied into `forward_layer`).
        merge_mode: "concat" (default), "sum", "mul", "ave", or None (a direct call returns
            both outputs; not usable inside a Sequential model).
        backward_layer: an optional explicit backward layer (it must read backwards:
            `go_backwards` opposite to `layer`'s); default: `layer`'s config with
            `go_backwards` flipped.

    With `return_sequences`, the backward outputs are flipped back into time order before the
    merge, and masked timesteps output zeros (Keras sets `zero_output_for_mask`). Weights:
    the forward layer's, then the backward layer's.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.Bidirectional(fn.layers.LSTM(4))(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, RecurrentBase):
            raise ValueError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got {layer!r}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: expected merge_mode in {MERGE_MODES}, got merge_mode={merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{config['name']}"})
        if backward_layer is None:
            back = {**config, "name": f"backward_{config['name']}", "go_backwards": not layer.go_backwards}
            self.backward_layer = type(layer).from_config(back)
        else:
            if not isinstance(backward_layer, RecurrentBase):
                raise ValueError(f"{self.name}: expected backward_layer to be a SimpleRNN, LSTM or GRU layer, got {backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(f"{self.name}: backward_layer.go_backwards must be the opposite of layer.go_backwards "
                                 f"(both are {layer.go_backwards})")
            if backward_layer.return_sequences != layer.return_sequences or backward_layer.return_state != layer.return_state:
                raise ValueError(f"{self.name}: backward_layer must match layer's return_sequences and return_state")
            self.backward_layer = type(backward_layer).from_config(backward_layer.get_config())
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self._rnn = None
        self._initial_weights = weights

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            sub._ensure_built(tuple(input_shape))
        # Keras's order: the forward layer's weights, then the backward layer's.
        self._weights = self.forward_layer._weights + self.backward_layer._weights
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], out[1:]
            states = states + states
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (2 * out[-1],)
        outputs = [tuple(out), tuple(out)] if self.merge_mode is None else [tuple(out)]
        if self.return_state or self.merge_mode is None:
            return outputs + [tuple(s) for s in states]
        return outputs[0]

    def _recurrent_engine(self):
        if self._rnn is None:
            self._rnn = _core.RecurrentLayer.bidirectional(self.name, self.forward_layer._recurrent_engine(),
                                                           self.backward_layer._recurrent_engine(), self.merge_mode)
        return self._rnn

    def _make_engine_layer(self):
        return self._recurrent_engine().layer()

    @Layer.trainable.setter
    def trainable(self, value):
        for sub in (self.forward_layer, self.backward_layer):
            sub.trainable = value
        Layer.trainable.fset(self, value)

    def __call__(self, inputs, initial_state=None, mask=None, training=False):
        """Returns the merged output (or both, merge_mode=None), then with `return_state` the
        forward layer's final states and the backward layer's."""
        x = inputs if isinstance(inputs, _core.Tensor) else _core.Tensor(np.asarray(inputs, dtype=np.float32))
        check_sequence_input(self.name, x)  # names this layer, not forward_<name>
        self._ensure_built((None,) + tuple(x.shape[1:]))
        self._engine_layer()
        mask = None if mask is None else np.asarray(mask, dtype=np.float32)
        seed = _random.next_seed() if training else 0
        outputs, states = self._recurrent_engine().run(x, _as_state_list(initial_state), mask, bool(training), seed)
        if self.return_state:
            return [*outputs, *states]
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def reset_states(self):
        for sub in (self.forward_layer, self.backward_layer):
            sub.reset_states()

    @property
    def states(self):
        f, b = self.forward_layer.states, self.backward_layer.states
        return None if f is None or b is None else f + b

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": {"module": "keras.layers", "class_name": type(self.forward_layer).__name__,
                      "config": self.forward_layer.get_config(), "registered_name": None},
            "backward_layer": {"module": "keras.layers", "class_name": type(self.backward_layer).__name__,
                               "config": self.backward_layer.get_config(), "registered_name": None},
        }

    @classmethod
    def from_config(cls, config):
        from ferronet.layers import get_layer_class

        config = dict(config)
        config.pop("dtype", None)
        layer_cfg = config.pop("layer")
        layer = get_layer_class(layer_cfg["class_name"]).from_config(layer_cfg["config"])
        back_cfg = config.pop("backward_layer", None)
        backward = None
        if back_cfg is not None:
            backward = get_layer_class(back_cfg["class_name"]).from_config(back_cfg["config"])
        # The forward layer was saved as forward_<name>: strip the prefix so the copy made in
        # __init__ gets the same name back. The backward layer comes back as an explicit
        # backward_layer, which __init__ keeps under its own name (as Keras does), so its saved
        # name (backward_<name>) must stay as it is; stripping it renamed it on every round trip.
        layer.name = _strip(layer.name, "forward_")
        return cls(layer, backward_layer=backward, **config)


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name

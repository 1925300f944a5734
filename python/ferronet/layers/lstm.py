"""LSTM (Hochreiter & Schmidhuber 1997), Keras's gate order i, f, c, o."""

import numpy as np

from ferronet.layers.rnn import RecurrentBase, pop_ignored


class LSTM(RecurrentBase):
    """Long short-term memory.

    Args:
        units: the state size.
        activation: candidate and output activation, default "tanh".
        recurrent_activation: gate activation, default "sigmoid".
        use_bias, kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"),
        bias_initializer ("zeros"), unit_forget_bias (True: the forget gate's bias starts at 1),
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer.
        dropout: rate on the inputs; recurrent_dropout: rate on the state the recurrent kernel
            reads. One mask per sequence, reused at every timestep, in training only.
        return_sequences: output every timestep, not just the last.
        return_state: a direct call returns `[output, h, c]`.
        go_backwards: read the sequence from its end (the output sequence comes reversed).
        stateful: each batch starts from the previous batch's final states (`reset_states()`).
        seed: seed of the dropout masks.

    Input `(batch, timesteps, features)`; a timestep mask (Embedding `mask_zero`, Masking) makes
    padded steps carry the state through. Weights: kernel `(features, 4*units)`,
    recurrent_kernel `(units, 4*units)`, bias `(4*units,)`.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> out, h, c = fn.layers.LSTM(4, return_state=True)(np.zeros((2, 5, 3), "float32"))
    >>> out.shape, h.shape, c.shape
    ((2, 4), (2, 4), (2, 4))
    """

    _cell = "lstm"
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        pop_ignored("LSTM", kwargs, ("use_cudnn", "implementation"))
        super().__init__(units, activation=activation, **kwargs)
        self._set_recurrent_activation(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_values(self, shape):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape)
        u = self.units
        # Keras: bias_initializer for i, then ones for f, then bias_initializer for c and o.
        return np.concatenate([np.asarray(self.bias_initializer((u,)), np.float32), np.ones(u, np.float32),
                               np.asarray(self.bias_initializer((2 * u,)), np.float32)])

    def _cell_config(self):
        return {"activation": self._activation_name, "recurrent_activation": self._recurrent_activation_name}

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self._recurrent_activation_name
        config["unit_forget_bias"] = self.unit_forget_bias
        return config

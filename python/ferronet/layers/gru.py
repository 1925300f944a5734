"""GRU (Cho et al. 2014), Keras's gate order z, r, h and both reset placements."""

from ferronet.layers.rnn import RecurrentBase, pop_ignored


class GRU(RecurrentBase):
    """Gated recurrent unit: `h = z * h_prev + (1 - z) * hh`.

    Args:
        units: the state size.
        activation: candidate activation, default "tanh"; recurrent_activation: gates, default
            "sigmoid".
        reset_after: True (Keras's default, cuDNN's form): the reset gate multiplies
            `h_prev @ U_h + b_rh`, and the bias has two rows `(2, 3*units)` (input, recurrent).
            False: it multiplies `h_prev` before the product; bias `(3*units,)`.
        The other arguments are LSTM's (initializers, regularizers, dropout, recurrent_dropout,
        return_sequences, return_state, go_backwards, stateful, seed).

    Weights: kernel `(features, 3*units)`, recurrent_kernel `(units, 3*units)`, bias.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.GRU(4, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 4)
    """

    _cell = "gru"
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        pop_ignored("GRU", kwargs, ("use_cudnn", "implementation"))
        super().__init__(units, activation=activation, **kwargs)
        self._set_recurrent_activation(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _cell_config(self):
        return {"activation": self._activation_name, "recurrent_activation": self._recurrent_activation_name,
                "reset_after": self.reset_after}

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self._recurrent_activation_name
        config["reset_after"] = self.reset_after
        return config

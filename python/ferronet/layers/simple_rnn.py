"""SimpleRNN: `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)`."""

from ferronet.layers.rnn import RecurrentBase


class SimpleRNN(RecurrentBase):
    """A fully connected recurrent layer.

    Args:
        units: the state size. activation: default "tanh". See `LSTM` for the shared arguments
        (initializers, regularizers, dropout, recurrent_dropout, return_sequences, return_state,
        go_backwards, stateful, seed).

    Input `(batch, timesteps, features)`; output `(batch, units)` or, with `return_sequences`,
    `(batch, timesteps, units)`. Weights: kernel `(features, units)`, recurrent_kernel
    `(units, units)`, bias `(units,)`.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.layers.SimpleRNN(4)(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    _cell = "simple_rnn"
    _gates = 1

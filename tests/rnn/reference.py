"""Float64 NumPy step-by-step references for SimpleRNN, LSTM and GRU, written from Keras 3's
cell code (keras/src/layers/rnn/*.py): the same gate order, bias layout and masking rules."""

import numpy as np

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "hard_sigmoid": lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0),
}


def _cell_step(cell, x_t, states, kernel, recurrent, bias, act, rec_act, reset_after, rec_mask):
    h = states[0]
    hr = h if rec_mask is None else h * rec_mask
    if cell == "simple_rnn":
        z = x_t @ kernel + hr @ recurrent + (0 if bias is None else bias)
        h_new = act(z)
        return h_new, [h_new]
    if cell == "lstm":
        c = states[1]
        z = x_t @ kernel + hr @ recurrent + (0 if bias is None else bias)
        i, f, g, o = np.split(z, 4, axis=-1)
        i, f, g, o = rec_act(i), rec_act(f), act(g), rec_act(o)
        c_new = f * c + i * g
        h_new = o * act(c_new)
        return h_new, [h_new, c_new]
    # GRU
    u = recurrent.shape[0]
    if bias is None:
        b_in, b_rec = 0, 0
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, None
    mx = x_t @ kernel + b_in
    xz, xr, xh = mx[:, :u], mx[:, u:2 * u], mx[:, 2 * u:]
    if reset_after:
        inner = hr @ recurrent + (0 if b_rec is None else b_rec)
        rz, rr, rh = inner[:, :u], inner[:, u:2 * u], inner[:, 2 * u:]
        z = rec_act(xz + rz)
        r = rec_act(xr + rr)
        hh = act(xh + r * rh)
    else:
        inner = hr @ recurrent[:, :2 * u]
        z = rec_act(xz + inner[:, :u])
        r = rec_act(xr + inner[:, u:])
        hh = act(xh + (r * hr) @ recurrent[:, 2 * u:])
    h_new = z * h + (1 - z) * hh
    return h_new, [h_new]


def rnn(cell, x, kernel, recurrent, bias=None, *, activation="tanh", recurrent_activation="sigmoid",
        reset_after=True, initial_state=None, mask=None, go_backwards=False, zero_output_for_mask=False,
        rec_mask=None):
    """Returns (outputs (B, T, U) in processing order, final states list), all float64."""
    x = np.asarray(x, np.float64)
    kernel, recurrent = np.asarray(kernel, np.float64), np.asarray(recurrent, np.float64)
    bias = None if bias is None else np.asarray(bias, np.float64)
    act, rec_act = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    batch, steps, _ = x.shape
    units = recurrent.shape[0]
    n_states = 2 if cell == "lstm" else 1
    states = [np.zeros((batch, units)) for _ in range(n_states)] if initial_state is None else [np.asarray(s, np.float64) for s in initial_state]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    prev_out = np.zeros((batch, units))
    outputs = []
    for t in order:
        out, new_states = _cell_step(cell, x[:, t], states, kernel, recurrent, bias, act, rec_act, reset_after, rec_mask)
        if mask is not None:
            m = np.asarray(mask, bool)[:, t][:, None]
            new_states = [np.where(m, ns, s) for ns, s in zip(new_states, states)]
            out = np.where(m, out, 0.0 if zero_output_for_mask else prev_out)
        states = new_states
        prev_out = out
        outputs.append(out)
    return np.stack(outputs, axis=1), states

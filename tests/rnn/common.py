"""Harness for the recurrent layer tests.

`rnn_expected` runs the float64 step-by-step reference (`reference.rnn`) with a layer's options
and returns what the layer returns (the last output or the sequence, then the final states with
`return_state`); `bidirectional_expected` does the same for a `Bidirectional` wrapper (backward
outputs flipped into time order and merged).

`check_rnn` calls a built layer on seeded inputs (optionally a mask and initial states) and
compares every returned array with the reference (`BALANCED`: each step sums over features and
units in float32), then the gradients of `sum_i sum(out_i * w_i)` over every returned array
(`w_i` seeded normal weights, so the final states' gradients are checked too) with respect to
the input, every weight (Keras `get_weights()` order) and every initial state, against central
differences of the reference (`helpers.numeric_grad` / `helpers.assert_grad_close`).
"""

import numpy as np

import ferronet as fn

from ..helpers import BALANCED, Tolerance, assert_close, assert_grad_close, numeric_grad, rng, sample
from . import reference as ref

L = fn.layers
Constant = fn.initializers.Constant

#: Keras's own tolerance for its hard-coded RNN values (`assertAllClose(atol=1e-5, rtol=1e-5)`).
GOLDEN = Tolerance(rtol=1e-5, atol=1e-5)


def keras_constant(cls, units, **kwargs):
    """The layer of Keras's RNN tests: Constant(0.01) kernel, 0.02 recurrent, 0.03 bias."""
    return cls(units, kernel_initializer=Constant(0.01), recurrent_initializer=Constant(0.02),
               bias_initializer=Constant(0.03), **kwargs)


def state_count(layer):
    return 2 if layer._cell == "lstm" else 1


def _reference_options(layer):
    options = dict(activation=layer._activation_name, go_backwards=layer.go_backwards,
                   zero_output_for_mask=layer.zero_output_for_mask)
    if layer._cell != "simple_rnn":
        options["recurrent_activation"] = layer._recurrent_activation_name
    if layer._cell == "gru":
        options["reset_after"] = layer.reset_after
    return options


def rnn_expected(layer, x, weights, initial_state=None, mask=None):
    """The reference of `layer(x, initial_state, mask)`: a list, the output (last step, or the
    sequence in processing order) then, with `return_state`, the final states."""
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    outputs, states = ref.rnn(layer._cell, x, kernel, recurrent, bias, initial_state=initial_state, mask=mask,
                              **_reference_options(layer))
    out = outputs if layer.return_sequences else outputs[:, -1]
    return [out, *states] if layer.return_state else [out]


def _merge(mode, forward, backward):
    if mode == "concat":
        return [np.concatenate([forward, backward], axis=-1)]
    if mode == "sum":
        return [forward + backward]
    if mode == "mul":
        return [forward * backward]
    if mode == "ave":
        return [(forward + backward) / 2]
    return [forward, backward]


def bidirectional_expected(layer, x, weights, initial_state=None, mask=None):
    """The reference of a `Bidirectional` call: the merged output (both with merge_mode None),
    then with `return_state` the forward layer's final states and the backward layer's."""
    fwd, bwd = layer.forward_layer, layer.backward_layer
    half = len(weights) // 2
    n = state_count(fwd)
    fwd_init = None if initial_state is None else initial_state[:n]
    bwd_init = None if initial_state is None else initial_state[n:]
    f = rnn_expected(fwd, x, weights[:half], fwd_init, mask)
    b = rnn_expected(bwd, x, weights[half:], bwd_init, mask)
    b_out = b[0][:, ::-1] if layer.return_sequences else b[0]  # back into time order
    merged = _merge(layer.merge_mode, f[0], b_out)
    return merged + f[1:] + b[1:] if layer.return_state else merged


def expected_for(layer):
    return bidirectional_expected if isinstance(layer, L.Bidirectional) else rnn_expected


def n_states(layer):
    if isinstance(layer, L.Bidirectional):
        return 2 * state_count(layer.forward_layer)
    return state_count(layer)


def check_rnn(layer, x, initial_state=None, mask=None, tol=BALANCED, grad=True, seed=0):
    """Compare `layer(x, initial_state=..., mask=...)` with the float64 reference, then the
    gradients of the input, every weight and every initial state. Returns the outputs."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    states = None if initial_state is None else [np.ascontiguousarray(s, np.float32) for s in initial_state]
    for weight in layer._ordered_weights():
        weight.grad = None  # gradients accumulate: start from none, as the layer may have run before
    x_leaf = fn.tensor(x, requires_grad=grad)
    state_leaves = None if states is None else [fn.tensor(s, requires_grad=grad) for s in states]
    result = layer(x_leaf, initial_state=state_leaves, mask=mask)
    outputs = result if isinstance(result, list) else [result]

    weights = [w.astype(np.float64) for w in layer.get_weights()]
    n_weights = len(weights)
    states64 = [] if states is None else [s.astype(np.float64) for s in states]
    expect = expected_for(layer)
    expected = expect(layer, x.astype(np.float64), weights, states64 or None, mask)
    assert len(outputs) == len(expected), f"{layer.name}: {len(outputs)} outputs, expected {len(expected)}"
    for i, (got, want) in enumerate(zip(outputs, expected)):
        assert_close(got.numpy(), want, tol, what=f"{layer.name} output {i}")
    if not grad:
        return [o.numpy() for o in outputs]

    generator = rng(seed + 100)
    out_weights = [generator.standard_normal(e.shape) for e in expected]
    loss = None
    for out, w in zip(outputs, out_weights):
        term = (out * w.astype(np.float32)).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    def flat_reference(x_, *rest):
        w_, s_ = list(rest[:n_weights]), list(rest[n_weights:])
        return np.concatenate([np.ravel(o) for o in expect(layer, x_, w_, s_ or None, mask)])

    flat_w = np.concatenate([w.ravel() for w in out_weights])
    values = [x.astype(np.float64)] + weights + states64
    names = ["input"] + [f"weight {i}" for i in range(n_weights)] + [f"initial state {i}" for i in range(len(states64))]
    leaves = [x_leaf] + layer._ordered_weights() + (state_leaves or [])
    for i, (leaf, name) in enumerate(zip(leaves, names)):
        assert leaf.grad is not None, f"{layer.name}: {name} got no gradient"
        numeric = numeric_grad(flat_reference, values, i, flat_w)
        assert_grad_close(leaf.grad.numpy(), numeric, what=f"{layer.name} gradient of {name}")
    return [o.numpy() for o in outputs]


def randomize(layer, input_shape, seed=1, scale=0.6):
    """Build `layer` for `input_shape` (with batch) unless built, and give every weight seeded values."""
    layer._ensure_built((None, *input_shape[1:]))
    generator = rng(seed)
    arrays = [generator.uniform(-scale, scale, size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(arrays)
    return arrays


def seeded(shape, seed=0, low=-1.0, high=1.0):
    return sample(shape, low, high, seed=seed)


def padded_batch(sequences, width, pad=0):
    """Right-pad integer sequences to `width`."""
    out = np.full((len(sequences), width), pad, dtype=np.int64)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out

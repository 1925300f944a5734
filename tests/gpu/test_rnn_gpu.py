"""SimpleRNN, LSTM and GRU (reset gate after and before the recurrent product) on the GPU against
the CPU backend: outputs and final states, and the gradients of the input, kernel, recurrent
kernel, bias and initial states (`gpu_parity`, BALANCED), with no CPU fallback; every option the
recurrent op has (initial states, timestep masks on either device, recurrent dropout,
go_backwards, last step only, no bias, activations) on awkward sizes (batch 1 and 3, units 1, 3
and 17, timesteps 1 and 17, 3 features). Then layers in models: predictions and training steps,
Masking, Bidirectional and stateful layers, with no op falling back to the CPU.
"""

import numpy as np
import pytest

import ferronet as fn
from ferronet import _core
from gpu.parity import gpu_parity, require_gpu
from helpers import BALANCED, assert_close, check_raises

F = 3
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
CELLS = list(GATES)
#: (batch, timesteps, units)
SIZES = [(1, 1, 1), (3, 17, 3), (1, 17, 17), (3, 1, 17)]
#: A mask with padding at the end, in the middle and at the start (B=3, T=5).
MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=np.float32)


def engine_cell(cell):
    return "gru" if cell == "gru_reset_before" else cell


def arrays(cell, batch, steps, units, bias=True, initial_state=False, seed=0):
    """x, kernel, recurrent kernel, [bias], [h0, [c0]] as seeded arrays (Keras layouts)."""
    rng = np.random.default_rng(seed)
    g = GATES[cell]
    out = [rng.uniform(-1, 1, (batch, steps, F)), rng.uniform(-0.6, 0.6, (F, g * units)),
           rng.uniform(-0.6, 0.6, (units, g * units))]
    if bias:
        out.append(rng.uniform(-0.5, 0.5, (2, g * units) if cell == "gru" else (g * units,)))
    if initial_state:
        out += [rng.uniform(-1, 1, (batch, units)) for _ in range(2 if cell == "lstm" else 1)]
    return [a.astype(np.float32) for a in out]


def rnn(cell, bias=True, mask=None, mask_on_gpu=False, training=False, **config):
    """`f(x, kernel, recurrent_kernel, [bias], *initial_states)`: the engine layer's outputs and
    final states. The mask moves to the GPU with the inputs when `mask_on_gpu`."""
    if cell == "gru_reset_before":
        config["reset_after"] = False

    def f(x, kernel, recurrent_kernel, *rest):
        b, states = (rest[0], list(rest[1:])) if bias else (None, list(rest))
        m = mask
        if m is not None and mask_on_gpu and x.device == "gpu":
            m = fn.tensor(m).to("gpu")
        layer = _core.RecurrentLayer.rnn("rnn", engine_cell(cell), kernel, recurrent_kernel, b, config)
        outputs, final = layer.run(x, states or None, m, training, 7)
        return [*outputs, *final]
    return f


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("initial_state", [False, True], ids=["zeros", "initial_state"])
def test_rnn_gpu_options_and_sizes(cell, size, return_sequences, go_backwards, initial_state):
    batch, steps, units = size
    gpu_parity(rnn(cell, return_sequences=return_sequences, go_backwards=go_backwards),
               arrays(cell, batch, steps, units, initial_state=initial_state),
               what=f"{cell} {size} sequences={return_sequences} backwards={go_backwards} h0={initial_state}")


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_crosses_gemm_tiles(cell):
    # 65 samples and 33 units: every GEMM (64 x 64 output tiles, 16-deep K steps) has a partial
    # tile in rows, in columns and in K.
    gpu_parity(rnn(cell, return_sequences=True, go_backwards=True), arrays(cell, 65, 3, 33, initial_state=True),
               what=f"{cell} 65 x 3 x 33")


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_large_gemm_tiles(cell):
    # 257 samples and 65 units: the LSTM's input projection (514 x 260) and per-step recurrent
    # GEMM (257 x 260, accumulated into strided rows of the gate buffer) take the 128x128-tile
    # kernel; the other cells' stay below it on some axis.
    gpu_parity(rnn(cell, return_sequences=True), arrays(cell, 257, 2, 65, initial_state=True), what=f"{cell} 257 x 2 x 65")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("mask_on_gpu", [False, True], ids=["cpu_mask", "gpu_mask"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
def test_rnn_gpu_mask(cell, mask_on_gpu, go_backwards, return_sequences):
    # Masked steps carry the state (and its gradient) through; an initial state makes the
    # steps masked at the start carry something other than zeros.
    gpu_parity(rnn(cell, mask=MASK, mask_on_gpu=mask_on_gpu, return_sequences=return_sequences, go_backwards=go_backwards),
               arrays(cell, 3, 5, 3, initial_state=True),
               what=f"{cell} mask on gpu={mask_on_gpu} backwards={go_backwards}")


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_long_random_mask(cell):
    mask = (np.random.default_rng(3).uniform(size=(3, 17)) > 0.3).astype(np.float32)
    gpu_parity(rnn(cell, mask=mask, mask_on_gpu=True, return_sequences=True, zero_output_for_mask=True),
               arrays(cell, 3, 17, 17, initial_state=True), what=f"{cell} random mask")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("with_mask", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("initial_state", [False, True], ids=["zeros", "initial_state"])
def test_rnn_gpu_recurrent_dropout(cell, with_mask, initial_state):
    # training=True with the same seed draws the same dropout masks on both devices.
    mask = MASK if with_mask else None
    gpu_parity(rnn(cell, mask=mask, mask_on_gpu=True, training=True, recurrent_dropout=0.4, return_sequences=True),
               arrays(cell, 3, 5, 17, initial_state=initial_state), what=f"{cell} recurrent dropout")


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_input_dropout(cell):
    gpu_parity(rnn(cell, training=True, dropout=0.3, recurrent_dropout=0.2, go_backwards=True),
               arrays(cell, 3, 17, 3), what=f"{cell} dropout")


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_no_bias(cell):
    gpu_parity(rnn(cell, bias=False, return_sequences=True), arrays(cell, 3, 17, 3, bias=False, initial_state=True),
               what=f"{cell} no bias")


#: (activation, recurrent_activation): gates that stay bounded (or nearly), so 17 steps do not
#: blow the gradients up past float32's meaningful range.
ACTIVATIONS = [("relu", "hard_sigmoid"), ("linear", "tanh"), ("elu", "sigmoid"), ("selu", "relu"), ("gelu", "sigmoid"),
               ("softplus", "tanh"), ("silu", "linear")]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("activations", ACTIVATIONS, ids="-".join)
def test_rnn_gpu_activations(cell, activations):
    activation, recurrent_activation = activations
    config = dict(activation=activation, return_sequences=True)
    if cell != "simple_rnn":
        config["recurrent_activation"] = recurrent_activation
    gpu_parity(rnn(cell, **config), arrays(cell, 3, 17, 3, initial_state=True), what=f"{cell} {activations}")


def test_rnn_gpu_mixed_devices_raise():
    require_gpu()
    x, kernel, recurrent, bias, h0 = arrays("gru", 3, 5, 3, initial_state=True)
    gpu = [fn.tensor(a).to("gpu") for a in (x, kernel, recurrent, bias)]
    layer = _core.RecurrentLayer.rnn("gru_1", "gru", gpu[1], gpu[2], gpu[3], {})
    check_raises(fn.errors.DeviceError, lambda: layer.run(gpu[0], [fn.tensor(h0)], None, False, 0), "gru_1", "gpu", "cpu")
    check_raises(ValueError, lambda: layer.run(gpu[0], [fn.tensor(h0[:, :2]).to("gpu")], None, False, 0), "gru_1")


# ---- layers in models -------------------------------------------------------------------------

T = 17


def _fallbacks_since(before):
    after = fn.config.cpu_fallbacks()
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _compare_models(build, x, y, steps=3):
    """Same weights on both devices: predictions, then `steps` SGD steps (losses and weights)."""
    require_gpu()
    cpu, gpu = build("cpu"), build("gpu")
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(optimizer=fn.optimizers.SGD(0.1), loss="mse")
    before = fn.config.cpu_fallbacks()
    assert_close(gpu.predict(x, verbose=0), cpu.predict(x, verbose=0), BALANCED, "predict")
    for step in range(steps):
        lc, lg = cpu.train_on_batch(x, y), gpu.train_on_batch(x, y)
        assert_close(lg, lc, BALANCED, f"loss at step {step}")
    for i, (wg, wc) in enumerate(zip(gpu.get_weights(), cpu.get_weights())):
        assert_close(wg, wc, BALANCED, f"weight {i} after training")
    # Nothing falls back: recurrent layers, Masking, Dense, the loss and SGD all run on the GPU.
    fallen = _fallbacks_since(before)
    assert not fallen, f"ops fell back to the CPU: {fallen}"


def _data(batch=3, pad=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, T, F)).astype(np.float32)
    if pad:
        x[0, 10:] = 0.0
        x[-1, :4] = 0.0
    return x, rng.normal(size=(batch, 2)).astype(np.float32)


def test_rnn_gpu_stacked_model_predicts_and_trains_as_cpu():
    def build(device):
        return fn.Sequential([fn.Input((T, F)), fn.layers.LSTM(17, return_sequences=True), fn.layers.GRU(3), fn.layers.Dense(2)],
                             device=device)
    _compare_models(build, *_data())


def test_rnn_gpu_simple_rnn_and_reset_before_model():
    def build(device):
        return fn.Sequential([fn.Input((T, F)), fn.layers.SimpleRNN(3, return_sequences=True, go_backwards=True),
                              fn.layers.GRU(17, reset_after=False), fn.layers.Dense(2)], device=device)
    _compare_models(build, *_data(batch=1))


def test_rnn_gpu_masking_model():
    def build(device):
        return fn.Sequential([fn.Input((T, F)), fn.layers.Masking(0.0), fn.layers.LSTM(17, return_sequences=True),
                              fn.layers.GRU(3), fn.layers.Dense(2)], device=device)
    _compare_models(build, *_data(pad=True))


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_rnn_gpu_bidirectional_masking_model(merge_mode):
    def build(device):
        return fn.Sequential([fn.Input((T, F)), fn.layers.Masking(0.0),
                              fn.layers.Bidirectional(fn.layers.LSTM(17, return_sequences=True), merge_mode=merge_mode),
                              fn.layers.Bidirectional(fn.layers.GRU(3), merge_mode=merge_mode), fn.layers.Dense(2)],
                             device=device)
    _compare_models(build, *_data(pad=True))


def test_rnn_gpu_dropout_model_trains():
    # Dropout masks come from the layer's own seed: the same on both devices.
    def build(device):
        return fn.Sequential([fn.Input((T, F)), fn.layers.GRU(3, dropout=0.2, recurrent_dropout=0.3, seed=5),
                              fn.layers.Dense(2)], device=device)
    _compare_models(build, *_data())


def test_rnn_gpu_stateful_layer_carries_states():
    require_gpu()
    x, _ = _data()

    def build(device):
        return fn.Sequential([fn.Input((T, F), batch_size=3), fn.layers.LSTM(3, stateful=True, return_sequences=True)],
                             device=device)
    cpu, gpu = build("cpu"), build("gpu")
    gpu.set_weights(cpu.get_weights())
    before = fn.config.cpu_fallbacks()
    for call in range(2):
        # The second call starts from the states the first one left (GPU tensors on the GPU).
        assert_close(gpu.predict_on_batch(x), cpu.predict_on_batch(x), BALANCED, f"stateful call {call}")
    assert "recurrent" not in _fallbacks_since(before)


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_gpu_records_without_reading_back(cell):
    # A masked, dropped-out call with initial states records into the command encoder, forward
    # and backward (the layer's slices of the op's output included): nothing is submitted (no
    # read-back) until a value is read.
    require_gpu()
    x, kernel, recurrent, bias, *states = [fn.tensor(a).to("gpu") for a in arrays(cell, 3, 5, 3, initial_state=True)]
    for t in (x, kernel, recurrent, bias, *states):
        t.requires_grad = True
    config = dict(return_sequences=True, recurrent_dropout=0.3, go_backwards=True)
    if cell == "gru_reset_before":
        config["reset_after"] = False
    layer = _core.RecurrentLayer.rnn("rnn", engine_cell(cell), kernel, recurrent, bias, config)
    mask = fn.tensor(MASK).to("gpu")
    before = fn.config.memory_stats()["submits"]
    outputs, final = layer.run(x, states, mask, True, 3)
    assert fn.config.memory_stats()["submits"] == before, "the forward pass read something back"
    (outputs[0].sum() + final[-1].sum()).backward()
    assert fn.config.memory_stats()["submits"] == before, "the backward pass read something back"
    assert np.isfinite(kernel.grad.numpy()).all()


def test_rnn_gpu_training_keeps_the_pool_flat():
    # Every buffer of the recurrent op (projection, saved gates, history, gate gradients) goes
    # back to the pool: after warm-up, training allocates nothing new.
    require_gpu()
    model = fn.Sequential([fn.Input((T, F)), fn.layers.Masking(0.0), fn.layers.LSTM(17, return_sequences=True, recurrent_dropout=0.2),
                           fn.layers.GRU(3, reset_after=False), fn.layers.Dense(2)], device="gpu")
    model.compile(optimizer=fn.optimizers.SGD(0.01), loss="mse")
    x, y = _data(pad=True)
    for _ in range(3):
        model.train_on_batch(x, y)
    allocated = fn.config.memory_stats()["allocated_bytes"]
    for _ in range(30):
        model.train_on_batch(x, y)
    assert fn.config.memory_stats()["allocated_bytes"] == allocated


def test_rnn_gpu_masked_epoch_is_few_submits():
    # Masking's mask, the recurrent ops, their output masks and slices all stay on the GPU: an
    # epoch of 8 steps is a handful of submits, not several per step.
    require_gpu()
    x, y = _data(batch=64, pad=True)
    model = fn.Sequential([fn.Input((T, F)), fn.layers.Masking(0.0), fn.layers.LSTM(17, return_sequences=True),
                           fn.layers.Bidirectional(fn.layers.GRU(3)), fn.layers.Dense(2)], device="gpu")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = fn.config.memory_stats()["submits"]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    submitted = fn.config.memory_stats()["submits"] - before
    assert submitted <= 2, submitted


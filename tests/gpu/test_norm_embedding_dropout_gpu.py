"""BatchNormalization, LayerNormalization, Embedding and the noise layers on the GPU.

The ops run natively (no CPU round trip: `gpu_parity(..., native=True)` checks the fallback
counter) and match the CPU in outputs and gradients on awkward sizes; layers trained in a GPU
model end where the CPU run ends, moving statistics included. The noise layers' masks are made on
the GPU by a counter-based generator: they are checked for their statistics (keep rate, exact
inverted-dropout scale, Gaussian mean and variance) and for reproducibility per seed, not for
equality with the CPU's stream.
"""

import numpy as np
import pytest

import ferronet as fn
from gpu.parity import AWKWARD, gpu_parity, require_gpu
from helpers import BALANCED, assert_close

#: The fallback names of the ops this file covers: none of them may appear on the GPU.
OURS = {"batch_normalization", "layer_normalization", "embedding"}


def on_device(t, device):
    """Move a layer weight (in place, as a model does) to `device`."""
    t._move_to(device)
    return t


def batch_norm_fn(shape, axis, training, center=True, scale=True, transpose=False):
    """f(x, [gamma], [beta]) -> (y, moving_mean, moving_variance) through a BatchNormalization
    layer whose gamma and beta are the parity leaves (so their gradients are compared too)."""

    def f(x, *params):
        layer = fn.layers.BatchNormalization(axis=axis, center=center, scale=scale, momentum=0.9)
        layer.build(tuple(shape))
        params = list(params)
        if scale:
            layer.gamma = params.pop(0)
        if center:
            layer.beta = params.pop(0)
        # Moving statistics away from (0, 1), on the input's device as a model would place them.
        rng = np.random.default_rng(7)
        channels = shape[axis]
        layer.moving_mean = on_device(fn.tensor(rng.normal(size=channels).astype(np.float32)), x.device)
        layer.moving_variance = on_device(fn.tensor(rng.uniform(0.5, 2.0, channels).astype(np.float32)), x.device)
        if transpose:
            x = fn.ops.transpose(x)
        y = layer(x, training=training)
        return y, layer.moving_mean, layer.moving_variance

    return f


def bn_arrays(shape, axis, seed, center=True, scale=True):
    rng = np.random.default_rng(seed)
    channels = shape[axis]
    arrays = [rng.normal(size=shape) * 3 + 1]
    if scale:
        arrays.append(rng.uniform(0.5, 2.0, channels))
    if center:
        arrays.append(rng.normal(size=channels))
    return arrays


# The last two have more than 4,096 values per channel: the statistics and the gradient sums then
# reduce in several chunks (kernels/norm.rs CHUNK), a partial last one included.
BN_CASES = [((1, 1), -1), ((3, 17), -1), ((17, 3), -1), ((255, 3), 1), ((3, 1025), 0), ((5, 3, 17), 1),
            ((2, 3, 4, 17), -1), ((4, 17, 3, 2), 1), ((1025, 3), -1), ((9000, 3), -1), ((5, 2, 1025), 1)]


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape,axis", BN_CASES, ids=[f"{s}-axis{a}" for s, a in BN_CASES])
def test_batch_norm_matches_cpu(shape, axis, training):
    gpu_parity(batch_norm_fn(shape, axis, training), bn_arrays(shape, axis, len(shape) + shape[0]),
               what=f"batch_norm {shape} axis={axis} training={training}")


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_without_gamma_or_beta_matches_cpu(training):
    shape = (17, 5, 3)
    gpu_parity(batch_norm_fn(shape, -1, training, center=False, scale=False), bn_arrays(shape, -1, 1, False, False),
               what="batch_norm center=False scale=False")


def test_batch_norm_transposed_input_matches_cpu():
    # The layer sees x.T, a strided view: the kernels read it through a copy.
    gpu_parity(batch_norm_fn((17, 3), -1, True, transpose=True), bn_arrays((3, 17), 0, 2), what="batch_norm of a transposed input")


def layer_norm_fn(width, center=True, scale=True):
    def f(x, *params):
        layer = fn.layers.LayerNormalization(center=center, scale=scale)
        layer.build((None, width))
        params = list(params)
        if scale:
            layer.gamma = params.pop(0)
        if center:
            layer.beta = params.pop(0)
        return layer(x)

    return f


LN_SHAPES = [(1, 1), (3, 17), (17, 3), (255, 1025), (1025, 255), (2, 3, 17), (4, 5, 1)]


@pytest.mark.parametrize("shape", LN_SHAPES, ids=str)
def test_layer_norm_matches_cpu(shape):
    rng = np.random.default_rng(shape[0])
    width = shape[-1]
    arrays = [rng.normal(size=shape) * 2 - 1, rng.uniform(0.5, 2.0, width), rng.normal(size=width)]
    gpu_parity(layer_norm_fn(width), arrays, what=f"layer_norm {shape}")


def test_layer_norm_without_gamma_or_beta_matches_cpu():
    gpu_parity(layer_norm_fn(17, center=False, scale=False), [np.random.default_rng(3).normal(size=(5, 17))],
               what="layer_norm center=False scale=False")


EMB_CASES = [(1, 1, (3,)), (3, 17, (255,)), (17, 3, (5, 17)), (5, 1025, (17,)), (255, 17, (1025,)), (1025, 3, (3, 255))]


@pytest.mark.parametrize("rows,dim,index_shape", EMB_CASES, ids=[f"{r}x{d}-{s}" for r, d, s in EMB_CASES])
def test_embedding_matches_cpu(rows, dim, index_shape):
    rng = np.random.default_rng(rows + dim)
    # Few distinct rows for many indices: the backward's per-row sums gather many terms.
    indices = rng.integers(0, min(rows, 4), size=index_shape).astype(np.float32)
    indices.flat[0] = rows - 1

    def f(table):
        layer = fn.layers.Embedding(rows, dim)
        layer.build((None,))
        layer.embeddings = table
        i = fn.tensor(indices)
        return layer(i.to("gpu") if table.device == "gpu" else i)

    gpu_parity(f, [rng.normal(size=(rows, dim))], what=f"embedding {rows}x{dim} indices {index_shape}")


def gpu_embedding(rows, dim):
    layer = fn.layers.Embedding(rows, dim)
    layer.build((None,))
    on_device(layer.embeddings, "gpu")
    return layer


@pytest.mark.parametrize("bad", [4.0, -1.0, 1.5, float("nan")])
def test_embedding_bad_index_on_gpu(bad):
    require_gpu()
    layer = gpu_embedding(4, 2)
    x = fn.tensor(np.array([[1.0, bad]], np.float32)).to("gpu")
    with pytest.raises(ValueError, match=rf"^{layer.name}: expected indices that are whole numbers in \[0, 4\)"):
        layer(x)


def test_embedding_gradient_is_deterministic_on_gpu():
    require_gpu()
    rows, dim = 3, 17
    idx = fn.tensor(np.random.default_rng(0).integers(0, rows, size=(1025,)).astype(np.float32)).to("gpu")
    grads = []
    for _ in range(2):
        layer = gpu_embedding(rows, dim)
        layer.set_weights([np.ones((rows, dim), np.float32)])
        (layer(idx) * fn.tensor(np.linspace(-1, 1, dim, dtype=np.float32)).to("gpu")).sum().backward()
        grads.append(layer.embeddings.grad.numpy())
    assert grads[0].tobytes() == grads[1].tobytes()


# ---- noise layers: statistics and reproducibility ----------------------------------------------

LARGE = (400, 250)  # 100,000 values: the kept fraction's standard error is under 0.0016


def gpu_input(seed=0):
    require_gpu()
    x = np.random.default_rng(seed).uniform(0.5, 2.0, size=LARGE).astype(np.float32)
    return x, fn.tensor(x).to("gpu")


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_and_scale_on_gpu(rate):
    x, xg = gpu_input()
    y_t = fn.layers.Dropout(rate)(xg, training=True)
    assert y_t.device == "gpu"
    y = y_t.numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.01
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    np.testing.assert_array_equal(y[kept], x[kept] * scale)  # inverted dropout, exactly x / (1 - rate)
    # No structure along either axis (each element has its own counter).
    assert np.abs(kept.mean(axis=0) - (1 - rate)).max() < 0.15
    assert np.abs(kept.mean(axis=1) - (1 - rate)).max() < 0.15


def test_dropout_seed_reproduces_masks_on_gpu():
    _, xg = gpu_input()
    a = fn.layers.Dropout(0.5, seed=11)(xg, training=True).numpy()
    b = fn.layers.Dropout(0.5, seed=11)(xg, training=True).numpy()
    c = fn.layers.Dropout(0.5, seed=12)(xg, training=True).numpy()
    assert a.tobytes() == b.tobytes()
    assert ((a != 0) != (c != 0)).mean() > 0.4  # independent masks differ in about half the places
    layer = fn.layers.Dropout(0.5, seed=11)
    first, second = (layer(xg, training=True).numpy() for _ in range(2))
    assert first.tobytes() == a.tobytes() and first.tobytes() != second.tobytes()  # a new mask per call


U32, U64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF


def philox4x32_10(counter, key):
    """Reference Philox-4x32-10 (Salmon et al. 2011), in Python integers."""
    c, k = list(counter), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k[0]) & U32, p1 & U32, ((p0 >> 32) ^ c[3] ^ k[1]) & U32, p0 & U32]
        k = [(k[0] + 0x9E3779B9) & U32, (k[1] + 0xBB67AE85) & U32]
    return c


def first_seed(layer_seed):
    """The first draw of the layer's SplitMix64 generator (src/nn/rng.rs): the kernel's key."""
    z = ((layer_seed ^ 0x9E3779B97F4A7C15) + 0x9E3779B97F4A7C15) & U64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return z ^ (z >> 31)


def test_dropout_mask_is_philox_keyed_by_the_layer_seed():
    # The reference against Random123's known answers, then the GPU mask against the reference:
    # a seed gives these masks on every adapter.
    assert philox4x32_10([0] * 4, [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10([U32] * 4, [U32, U32]) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    require_gpu()
    seed = first_seed(11)
    want = [(philox4x32_10([i, 0, 0, 0], [seed & U32, seed >> 32])[0] >> 8) / 2**24 >= 0.3 for i in range(1025)]
    got = fn.layers.Dropout(0.3, seed=11)(fn.tensor(np.ones(1025, np.float32)).to("gpu"), training=True).numpy() != 0
    assert got.tolist() == want


def test_dropout_noise_shape_broadcasts_on_gpu():
    _, xg = gpu_input()
    y = fn.layers.Dropout(0.5, noise_shape=(None, 1), seed=3)(xg, training=True).numpy()
    rows_kept = (y != 0).all(axis=1)
    assert ((y != 0).any(axis=1) == rows_kept).all()  # whole rows kept or dropped
    assert abs(rows_kept.mean() - 0.5) < 0.1


def test_dropout_gradient_is_the_mask_on_gpu():
    require_gpu()
    x = fn.tensor(np.ones((17, 255), np.float32)).to("gpu").detach()
    x.requires_grad = True
    y = fn.layers.Dropout(0.3, seed=5)(x, training=True)
    y.sum().backward()
    assert x.grad.device == "gpu"
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


@pytest.mark.parametrize("stddev", [0.5, 2.0])
def test_gaussian_noise_mean_and_variance_on_gpu(stddev):
    x, xg = gpu_input()
    noise = fn.layers.GaussianNoise(stddev, seed=1)(xg, training=True).numpy() - x
    assert abs(noise.mean()) < 4 * stddev / np.sqrt(noise.size)
    assert abs(noise.std() / stddev - 1) < 0.01
    # Gaussian shape: about 68.3% within one standard deviation, 95.4% within two.
    assert abs((np.abs(noise) < stddev).mean() - 0.6827) < 0.01
    assert abs((np.abs(noise) < 2 * stddev).mean() - 0.9545) < 0.005


@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_gaussian_dropout_mean_and_variance_on_gpu(rate):
    x, xg = gpu_input()
    factor = fn.layers.GaussianDropout(rate, seed=2)(xg, training=True).numpy() / x
    stddev = np.sqrt(rate / (1 - rate))
    assert abs(factor.mean() - 1) < 4 * stddev / np.sqrt(factor.size)
    assert abs(factor.std() / stddev - 1) < 0.01


@pytest.mark.parametrize("make", [lambda: fn.layers.Dropout(0.5), lambda: fn.layers.GaussianNoise(1.0),
                                  lambda: fn.layers.GaussianDropout(0.4)], ids=["dropout", "gaussian_noise", "gaussian_dropout"])
def test_noise_layers_are_the_identity_in_inference_on_gpu(make):
    x, xg = gpu_input()
    y = make()(xg)
    assert y.device == "gpu" and y.numpy().tobytes() == x.tobytes()


# ---- layers in a model: GPU training ends where the CPU's does ---------------------------------

def trained(device, layers, x, y, loss, steps=3):
    fn.utils.set_random_seed(0)
    model = fn.Sequential(layers(), device=device)
    model.build((None,) + x.shape[1:])
    model.set_weights(initial_weights(layers, x))
    model.compile(fn.optimizers.SGD(0.05), loss)
    for i in range(steps):
        model.train_on_batch(x[i::steps], y[i::steps])
    return model


def initial_weights(layers, x):
    fn.utils.set_random_seed(0)
    model = fn.Sequential(layers(), device="cpu")
    model.build((None,) + x.shape[1:])
    rng = np.random.default_rng(1)
    # Moving statistics away from their initial values, so inference would notice a wrong copy.
    return [w + rng.normal(scale=0.1, size=w.shape).astype(np.float32) for w in model.get_weights()]


def test_normalization_layers_train_on_gpu_like_cpu():
    require_gpu()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(51, 17)).astype(np.float32) * 2 + 1
    y = rng.normal(size=(51, 3)).astype(np.float32)

    def layers():
        return [fn.Input((17,)), fn.layers.Dense(33), fn.layers.BatchNormalization(momentum=0.8), fn.layers.Dropout(0.0),
                fn.layers.LayerNormalization(), fn.layers.Dense(3)]

    cpu, gpu = trained("cpu", layers, x, y, "mse"), trained("gpu", layers, x, y, "mse")
    assert gpu.device == "gpu"
    for i, (g, c) in enumerate(zip(gpu.get_weights(), cpu.get_weights())):
        assert_close(g, c, BALANCED, f"weight {i} after training")
    bn = gpu.layers[1]
    assert bn.moving_mean.device == "gpu"
    assert_close(bn.moving_mean.numpy(), cpu.layers[1].moving_mean.numpy(), BALANCED, "moving_mean")
    assert_close(bn.moving_variance.numpy(), cpu.layers[1].moving_variance.numpy(), BALANCED, "moving_variance")
    assert_close(gpu.predict(x, verbose=0), cpu.predict(x, verbose=0), BALANCED, "predictions after training")


def test_embedding_layer_trains_on_gpu_like_cpu():
    require_gpu()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(48, 7)).astype(np.float32)  # repeated indices in every batch
    y = rng.normal(size=(48, 3)).astype(np.float32)

    def layers():
        return [fn.Input((7,)), fn.layers.Embedding(17, 4), fn.layers.LayerNormalization(), fn.layers.Flatten(),
                fn.layers.BatchNormalization(), fn.layers.Dense(3)]

    cpu, gpu = trained("cpu", layers, x, y, "mse"), trained("gpu", layers, x, y, "mse")
    for i, (g, c) in enumerate(zip(gpu.get_weights(), cpu.get_weights())):
        assert_close(g, c, BALANCED, f"weight {i} after training")


@pytest.mark.parametrize("mask_zero", [False, True])
def test_an_embedding_model_epoch_is_few_submits_not_one_per_step(mask_zero):
    """An Embedding first layer gets its batches on the host (it checks the indices there), so the
    GPU is not waited on every step to read them back."""
    require_gpu()
    rng = np.random.default_rng(3)
    x = rng.integers(0 if mask_zero else 1, 20, size=(256, 6)).astype(np.float32)
    y = rng.integers(0, 2, size=256)
    model = fn.Sequential([fn.Input((6,)), fn.layers.Embedding(20, 8, mask_zero=mask_zero), fn.layers.LSTM(5),
                           fn.layers.Dense(2, activation="softmax")], device="gpu")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = fn.config.memory_stats()["submits"]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 32 steps
    assert fn.config.memory_stats()["submits"] - before <= 4
    assert model.predict(x[:3], verbose=0).shape == (3, 2)
    assert model(x[:3]).device == "gpu"


def test_a_bad_index_in_a_gpu_embedding_models_batch_is_a_clear_error():
    require_gpu()
    model = fn.Sequential([fn.Input((3,)), fn.layers.Embedding(5, 2), fn.layers.Flatten(), fn.layers.Dense(1)], device="gpu")
    model.compile("sgd", "mse")
    x = np.array([[0, 1, 2], [3, 4, 5]], np.float32)
    with pytest.raises(ValueError, match=r"embedding.*\[0, 5\).*5"):
        model.fit(x, np.zeros((2, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"embedding.*\[0, 5\)"):
        model.predict(x, verbose=0)


def new_fallbacks(before):
    after = fn.config.cpu_fallbacks()
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_model_with_dropout_trains_on_gpu_without_our_fallbacks():
    require_gpu()
    rng = np.random.default_rng(2)
    x = rng.integers(0, 9, size=(64, 5)).astype(np.float32)
    y = rng.normal(size=(64, 2)).astype(np.float32)
    model = fn.Sequential([fn.Input((5,)), fn.layers.Embedding(9, 8), fn.layers.Flatten(), fn.layers.Dense(16),
                           fn.layers.BatchNormalization(), fn.layers.Dropout(0.5, seed=1), fn.layers.GaussianNoise(0.1),
                           fn.layers.LayerNormalization(), fn.layers.GaussianDropout(0.2), fn.layers.Dense(2)], device="gpu")
    model.compile(fn.optimizers.SGD(0.05), "mse")
    before = fn.config.cpu_fallbacks()
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    fell_back = new_fallbacks(before)
    assert not OURS & set(fell_back), f"fell back to the CPU: {fell_back}"
    assert all(np.isfinite(history.history["loss"]))
    assert model.layers[3].moving_mean.device == "gpu"


def test_training_step_records_without_read_back_on_gpu():
    # BatchNormalization (moving statistics included), LayerNormalization and the noise layers
    # record into the command stream: nothing is submitted until a value is read.
    require_gpu()
    x = fn.tensor(np.random.default_rng(4).normal(size=(33, 17)).astype(np.float32)).to("gpu").detach()
    x.requires_grad = True
    bn, ln = fn.layers.BatchNormalization(), fn.layers.LayerNormalization()
    for layer in (bn, ln):
        layer.build((None, 17))
        for w in layer.weights:
            on_device(w, "gpu")
    fn.config.synchronize()
    before = fn.config.memory_stats()["submits"]
    y = fn.layers.GaussianDropout(0.2)(fn.layers.Dropout(0.3)(ln(bn(x, training=True)), training=True), training=True)
    y = fn.layers.GaussianNoise(0.1)(y, training=True)
    y.sum().backward()
    assert fn.config.memory_stats()["submits"] == before
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(bn.moving_mean.numpy()).all()


def test_batch_norm_bad_input_on_gpu():
    require_gpu()
    x = fn.tensor(np.ones((4, 3), np.float32)).to("gpu")
    layer = fn.layers.BatchNormalization()
    layer.build((None, 3))  # weights left on the CPU: a mixed pair is an error, not a copy
    with pytest.raises(fn.errors.DeviceError, match=r"^batch_normalization: expected all operands on gpu, got one on cpu"):
        layer(x, training=True)
    layer = fn.layers.BatchNormalization()
    layer.build((None, 3))
    layer.gamma = on_device(fn.tensor(np.ones(4, np.float32)), "gpu")
    for w in (layer.beta, layer.moving_mean, layer.moving_variance):
        on_device(w, "gpu")
    with pytest.raises(fn.errors.ShapeError, match=rf"^{layer.name}: expected gamma of shape \(3,\), got \(4,\)"):
        layer(x, training=True)


def test_layer_norm_bad_input_on_gpu():
    require_gpu()
    layer = fn.layers.LayerNormalization()
    layer.build((None, 5))
    with pytest.raises(fn.errors.DeviceError, match=r"^layer_normalization: expected all operands on gpu, got one on cpu"):
        layer(fn.tensor(np.ones((2, 5), np.float32)).to("gpu"))

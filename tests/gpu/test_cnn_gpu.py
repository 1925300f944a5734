"""The CNN ops and layers on the GPU match the CPU backend, with no CPU fallback.

Op level: `gpu_parity` (outputs and the gradients of every input, weights included, within
``BALANCED``) on the engine layers (`_core.Layer.conv/pool/...`, whose kernel and bias are the
leaves passed in) and on `ops.conv`, `ops.concatenate` and `ops.max`, over awkward sizes: batch 1
and 3, odd spatial sizes (17, 9, 5), channels 1, 3 and 17, every stride/padding/dilation/group
option, bias, fused activations, transposed and 1-D convolutions, channels_first.
Layer level: each Keras CNN layer in a `Sequential(device="gpu")` matches the same model on the
CPU (output, input gradient, weight gradients), and the Keras convnet trains to the same loss.
"""

import numpy as np
import pytest

import ferronet as fn
from ferronet import _core
from gpu.parity import gpu_parity, require_gpu
from helpers import BALANCED, assert_close

def uniform(shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)


def conv_layer(config, activation="linear", bias=True):
    """`f(x, kernel[, bias])` through the engine's conv layer, kernel and bias being leaves."""
    if bias:
        return lambda x, k, b: _core.Layer.conv("conv", k, b, activation, config)(x, False, 0, None)
    return lambda x, k: _core.Layer.conv("conv", k, None, activation, config)(x, False, 0, None)


# (batch, height, width, in channels, filters, kernel, strides, padding, dilation, groups)
CONV_CASES = [
    (1, 17, 17, 1, 1, (3, 3), (1, 1), "valid", (1, 1), 1),
    (3, 17, 17, 3, 17, (3, 3), (1, 1), "same", (1, 1), 1),
    (3, 17, 9, 3, 17, (3, 2), (2, 1), "same", (1, 1), 1),
    (1, 17, 17, 17, 3, (5, 5), (2, 2), "valid", (1, 1), 1),
    (3, 9, 17, 3, 3, (3, 3), (1, 1), "valid", (2, 3), 1),
    (1, 17, 17, 3, 17, (3, 3), (1, 1), "same", (2, 2), 1),
    (3, 17, 17, 6, 9, (3, 3), (1, 2), "same", (1, 1), 3),
    (1, 5, 5, 17, 17, (1, 1), (1, 1), "valid", (1, 1), 1),
    (3, 17, 17, 9, 16, (3, 3), (1, 1), "same", (1, 1), 1),
    (3, 17, 17, 3, 3, (2, 2), (3, 3), "same", (1, 1), 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"-{c[6]}-{c[7]}-{c[8]}-g{c[9]}")
def test_conv2d_gpu(case):
    batch, h, w, cin, filters, kernel, strides, padding, dilation, groups = case
    config = {"rank": 2, "strides": list(strides), "padding": padding, "dilation": list(dilation), "groups": groups}
    arrays = [uniform((batch, h, w, cin), 1), uniform((*kernel, cin // groups, filters), 2), uniform((filters,), 3)]
    gpu_parity(conv_layer(config, "relu"), arrays, what=f"conv2d {case}")
    gpu_parity(conv_layer(config, bias=False), arrays[:2], what=f"conv2d no bias {case}")


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "elu", "gelu", "softmax"])
def test_conv2d_fused_activation_gpu(activation):
    config = {"rank": 2, "strides": [1, 1], "padding": "same"}
    arrays = [uniform((3, 9, 9, 3), 4), uniform((3, 3, 3, 17), 5), uniform((17,), 6)]
    gpu_parity(conv_layer(config, activation), arrays, what=f"conv2d {activation}")


@pytest.mark.parametrize("kind", ["conv", "transpose"])
@pytest.mark.parametrize("activation,kernels", [("relu", 1), ("linear", 1), ("tanh", 1), ("elu", 2), ("softmax", 2)])
def test_conv2d_forward_is_one_kernel_with_its_bias_and_activation(kind, activation, kernels):
    """The bias and ReLU/sigmoid/tanh are applied as the convolution stores its results; other
    activations take one kernel more (no separate bias pass in either case)."""
    require_gpu()
    config = {"rank": 2, "kind": kind, "strides": [1, 1], "padding": "same"}
    x, k, b = (fn.tensor(a).to("gpu") for a in (uniform((2, 9, 9, 3), 4), uniform((3, 3, 3, 3), 5), uniform((3,), 6)))
    with fn.no_grad():
        conv_layer(config, activation)(x, k, b)  # compile the pipelines outside the count
        before = fn.config.memory_stats()["dispatches"]
        conv_layer(config, activation)(x, k, b)
        assert fn.config.memory_stats()["dispatches"] - before == kernels


def test_conv2d_channels_first_gpu():
    config = {"rank": 2, "strides": [2, 1], "padding": "same", "channels_first": True}
    arrays = [uniform((3, 3, 17, 9), 7), uniform((3, 3, 3, 17), 8), uniform((17,), 9)]
    gpu_parity(conv_layer(config, "relu"), arrays, what="conv2d channels_first")


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("padding, strides", [("valid", (1, 1)), ("same", (2, 2))])
def test_depthwise_conv2d_gpu(multiplier, padding, strides):
    config = {"rank": 2, "kind": "depthwise", "strides": list(strides), "padding": padding}
    arrays = [uniform((3, 17, 17, 3), 10), uniform((3, 3, 3, multiplier), 11), uniform((3 * multiplier,), 12)]
    gpu_parity(conv_layer(config, "relu"), arrays, what="depthwise")


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides, dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_gpu(padding, strides, dilation):
    config = {"rank": 1, "strides": [strides], "padding": padding, "dilation": [dilation]}
    arrays = [uniform((3, 17, 3), 13), uniform((3, 3, 17), 14), uniform((17,), 15)]
    gpu_parity(conv_layer(config, "tanh"), arrays, what=f"conv1d {padding} {strides} {dilation}")


def test_conv1d_channels_first_gpu():
    config = {"rank": 1, "strides": [1], "padding": "same", "channels_first": True}
    arrays = [uniform((1, 3, 17), 16), uniform((5, 3, 1), 17), uniform((1,), 18)]
    gpu_parity(conv_layer(config), arrays, what="conv1d channels_first")


# (batch, height, width, in channels, filters, kernel, strides, padding, dilation, output_padding)
TRANSPOSE_CASES = [
    (1, 5, 5, 1, 1, (3, 3), (1, 1), "valid", (1, 1), None),
    (3, 5, 7, 3, 17, (3, 3), (2, 2), "same", (1, 1), None),
    (3, 9, 5, 17, 3, (3, 2), (2, 3), "valid", (1, 1), None),
    (1, 5, 5, 3, 3, (3, 3), (2, 2), "same", (1, 1), (1, 1)),
    (3, 5, 5, 3, 3, (3, 3), (1, 1), "valid", (2, 2), None),
    (1, 9, 9, 3, 17, (4, 4), (3, 3), "valid", (1, 1), (2, 0)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"-{c[6]}-{c[7]}-{c[8]}-{c[9]}")
def test_conv2d_transpose_gpu(case):
    batch, h, w, cin, filters, kernel, strides, padding, dilation, output_padding = case
    config = {"rank": 2, "kind": "transpose", "strides": list(strides), "padding": padding, "dilation": list(dilation),
              "output_padding": None if output_padding is None else list(output_padding)}
    arrays = [uniform((batch, h, w, cin), 19), uniform((*kernel, filters, cin), 20), uniform((filters,), 21)]
    gpu_parity(conv_layer(config, "relu"), arrays, what=f"conv2d_transpose {case}")
    gpu_parity(conv_layer(config, bias=False), arrays[:2], what=f"conv2d_transpose no bias {case}")


def test_conv1d_transpose_gpu():
    config = {"rank": 1, "kind": "transpose", "strides": [2], "padding": "same"}
    arrays = [uniform((3, 17, 3), 22), uniform((3, 17, 3), 23), uniform((17,), 24)]
    gpu_parity(conv_layer(config, "sigmoid"), arrays, what="conv1d_transpose")


@pytest.mark.parametrize("strides, padding, dilation, groups", [(1, "valid", 1, 1), (2, "same", 1, 1), (1, "same", 2, 3)])
def test_ops_conv_gpu(strides, padding, dilation, groups):
    arrays = [uniform((3, 17, 17, 3), 25), uniform((3, 3, 3 // groups, 6), 26)]
    gpu_parity(lambda x, k: fn.ops.conv(x, k, strides=strides, padding=padding, dilation_rate=dilation, groups=groups), arrays,
               what="ops.conv")


def pool_layer(config):
    return lambda x: _core.Layer.pool("pool", config)(x, False, 0, None)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool_size, strides, padding", [
    ((2, 2), (2, 2), "valid"), ((2, 2), (2, 2), "same"), ((3, 3), (2, 2), "same"), ((3, 2), (1, 1), "valid"),
    ((3, 3), (1, 2), "same"), ((1, 1), (3, 3), "same"), ((5, 5), (5, 5), "same"),
])
@pytest.mark.parametrize("shape", [(1, 17, 17, 1), (3, 17, 9, 17)])
def test_pool2d_gpu(kind, pool_size, strides, padding, shape):
    config = {"rank": 2, "kind": kind, "pool_size": list(pool_size), "strides": list(strides), "padding": padding}
    gpu_parity(pool_layer(config), [uniform(shape, 27)], what=f"{kind} pool {pool_size} {strides} {padding}")


def test_max_pool_ties_gpu():
    """Equal values in a window: the gradient goes to the first of them, on both devices."""
    x = np.round(uniform((3, 17, 17, 3), 28) * 2) / 2
    config = {"rank": 2, "kind": "max", "pool_size": [3, 3], "strides": [2, 2], "padding": "same"}
    gpu_parity(pool_layer(config), [x], what="max pool ties")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("channels_first", [False, True])
def test_pool1d_gpu(kind, channels_first):
    config = {"rank": 1, "kind": kind, "pool_size": [3], "strides": [2], "padding": "same", "channels_first": channels_first}
    gpu_parity(pool_layer(config), [uniform((3, 17, 3), 29)], what=f"{kind} pool 1d")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("rank, channels_first, keepdims", [(2, False, False), (2, True, True), (1, False, True), (1, True, False)])
def test_global_pooling_gpu(kind, rank, channels_first, keepdims):
    config = {"rank": rank, "kind": kind, "global": True, "channels_first": channels_first, "keepdims": keepdims}
    shape = (3, 17, 9, 3) if rank == 2 else (3, 17, 3)
    gpu_parity(pool_layer(config), [uniform(shape, 30)], what=f"global {kind} pool")


@pytest.mark.parametrize("axis", [None, 0, -1, (1, 2)])
def test_ops_max_gpu(axis):
    gpu_parity(lambda x: fn.ops.max(x, axis=axis), [uniform((3, 17, 5), 31)], what=f"max axis={axis}")


@pytest.mark.parametrize("padding", [((1, 2), (3, 0)), ((0, 0), (0, 0)), ((2, 2), (1, 1))])
@pytest.mark.parametrize("channels_first", [False, True])
def test_zero_pad2d_gpu(padding, channels_first):
    f = lambda x: _core.Layer.zero_padding("pad", [list(p) for p in padding], channels_first)(x, False, 0, None)
    gpu_parity(f, [uniform((3, 17, 9, 3), 32)], what="zero padding")


@pytest.mark.parametrize("size", [(2, 2), (1, 3), (3, 1)])
@pytest.mark.parametrize("channels_first", [False, True])
def test_upsample_nearest2d_gpu(size, channels_first):
    f = lambda x: _core.Layer.upsampling("up", list(size), channels_first)(x, False, 0, None)
    gpu_parity(f, [uniform((3, 5, 9, 17), 33)], what="upsampling")


@pytest.mark.parametrize("cropping", [((1, 2), (3, 0)), ((0, 0), (4, 4))])
@pytest.mark.parametrize("channels_first", [False, True])
def test_cropping2d_gpu(cropping, channels_first):
    f = lambda x: _core.Layer.cropping("crop", [list(c) for c in cropping], channels_first)(x, False, 0, None)
    gpu_parity(f, [uniform((3, 9, 17, 17), 34)], what="cropping")


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_gpu(axis):
    shapes = [[3, 17, 5], [3, 17, 5]]
    shapes[0][axis] = 1
    shapes[1][axis] = 17
    arrays = [uniform(shapes[0], 35), uniform(shapes[1], 36), uniform((3, 17, 5), 37)]
    gpu_parity(lambda a, b, c: fn.ops.concatenate([a, b, c], axis=axis), arrays, what=f"concatenate axis={axis}")


def test_concatenate_strided_gpu():
    """Transposed (strided) operands are read as they are."""
    arrays = [uniform((5, 3), 38), uniform((3, 17), 39)]
    gpu_parity(lambda a, b: fn.ops.concatenate([fn.ops.transpose(a), b], axis=1), arrays, what="concatenate strided")


# Layer level: Keras layers in a Sequential on each device, the same weights.

LAYERS = {
    "Conv1D": ((17, 3), lambda: fn.layers.Conv1D(17, 3, strides=2, padding="causal", activation="relu")),
    "Conv1D_channels_first": ((3, 17), lambda: fn.layers.Conv1D(5, 3, padding="same", data_format="channels_first")),
    "Conv2D": ((17, 17, 3), lambda: fn.layers.Conv2D(17, 3, strides=(2, 1), padding="same", activation="relu")),
    "Conv2D_dilated_groups": ((17, 9, 6), lambda: fn.layers.Conv2D(9, 3, dilation_rate=2, groups=3)),
    "Conv2D_channels_first": ((3, 17, 9), lambda: fn.layers.Conv2D(4, 3, padding="same", data_format="channels_first")),
    "DepthwiseConv2D": ((17, 17, 3), lambda: fn.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")),
    "SeparableConv2D": ((17, 17, 3), lambda: fn.layers.SeparableConv2D(17, 3, padding="same", activation="relu")),
    "Conv2DTranspose": ((9, 9, 3), lambda: fn.layers.Conv2DTranspose(17, 3, strides=2, padding="same", activation="relu")),
    "MaxPooling1D": ((17, 3), lambda: fn.layers.MaxPooling1D(3, strides=2, padding="same")),
    "AveragePooling1D": ((17, 3), lambda: fn.layers.AveragePooling1D(2)),
    "MaxPooling2D": ((17, 17, 3), lambda: fn.layers.MaxPooling2D((2, 2))),
    "AveragePooling2D": ((17, 17, 3), lambda: fn.layers.AveragePooling2D((3, 3), strides=2, padding="same")),
    "GlobalMaxPooling1D": ((17, 3), lambda: fn.layers.GlobalMaxPooling1D()),
    "GlobalAveragePooling1D": ((17, 3), lambda: fn.layers.GlobalAveragePooling1D()),
    "GlobalMaxPooling2D": ((17, 9, 3), lambda: fn.layers.GlobalMaxPooling2D()),
    "GlobalAveragePooling2D": ((17, 9, 3), lambda: fn.layers.GlobalAveragePooling2D(keepdims=True)),
    "ZeroPadding2D": ((17, 9, 3), lambda: fn.layers.ZeroPadding2D(((1, 2), (0, 3)))),
    "UpSampling2D": ((5, 9, 3), lambda: fn.layers.UpSampling2D((2, 3))),
    "Cropping2D": ((17, 9, 3), lambda: fn.layers.Cropping2D(((1, 2), (3, 1)))),
}


def run_model(make_layer, input_shape, weights, x, device):
    model = fn.Sequential([fn.Input(input_shape), make_layer()], device=device)
    if weights is not None:
        model.set_weights(weights)
    leaf = fn.tensor(x)
    if device == "gpu":
        leaf = leaf.to("gpu").detach()
    leaf.requires_grad = True
    out = model(leaf)
    w = uniform(out.shape, 40)
    w_t = fn.tensor(w).to(device) if device == "gpu" else fn.tensor(w)
    (out * w_t).sum().backward()
    grads = [leaf.grad.numpy()] + [v.grad.numpy() for v in model.trainable_weights]
    return model, out, grads


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gpu(name):
    require_gpu()
    input_shape, make_layer = LAYERS[name]
    x = uniform((3, *input_shape), 41)
    probe = fn.Sequential([fn.Input(input_shape), make_layer()])
    weights = [uniform(w.shape, 42 + i) * 0.5 for i, w in enumerate(probe.get_weights())]
    _, cpu_out, cpu_grads = run_model(make_layer, input_shape, weights, x, "cpu")
    before = fn.config.cpu_fallbacks()
    _, gpu_out, gpu_grads = run_model(make_layer, input_shape, weights, x, "gpu")
    assert fn.config.cpu_fallbacks() == before, f"{name} fell back to the CPU"
    assert gpu_out.device == "gpu"
    assert_close(gpu_out.numpy(), cpu_out.numpy(), BALANCED, f"{name} output")
    assert len(gpu_grads) == len(cpu_grads)
    for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
        assert_close(g, c, BALANCED, f"{name} gradient {i}")


def convnet(device):
    fn.utils.set_random_seed(7)
    return fn.Sequential([
        fn.Input((8, 8, 1)),
        fn.layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
        fn.layers.MaxPooling2D((2, 2)),
        fn.layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
        fn.layers.MaxPooling2D((2, 2)),
        fn.layers.Flatten(),
        fn.layers.Dropout(0.0),  # dropout's RNG on the GPU is another change; rate 0 keeps the runs comparable
        fn.layers.Dense(10, activation="softmax"),
    ], device=device)


def test_convnet_trains_to_the_cpu_loss_on_gpu():
    require_gpu()
    (x, y), _ = fn.datasets.digits.load_data()
    x = (x[:320].astype("float32") / 16).reshape(-1, 8, 8, 1)
    y = fn.utils.to_categorical(y[:320], 10)
    histories, predictions = {}, {}
    weights = convnet("cpu").get_weights()
    for device in ("cpu", "gpu"):
        model = convnet(device)
        model.set_weights(weights)
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        before = fn.config.cpu_fallbacks()
        histories[device] = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
        assert fn.config.cpu_fallbacks() == before, f"{device}: the training step fell back to the CPU"
        predictions[device] = model.predict(x[:17], verbose=0)
    # Two epochs of Adam compound float32 rounding differences between the devices.
    assert_close(histories["gpu"]["loss"], histories["cpu"]["loss"], BALANCED, "convnet loss per epoch")
    assert_close(predictions["gpu"], predictions["cpu"], BALANCED, "convnet predictions")
    assert histories["gpu"]["loss"][-1] < histories["gpu"]["loss"][0]


@pytest.mark.parametrize("case", [
    (4, 33, 33, 3, 17, (3, 3), 1),    # kernel gradient over 4356 pixels: split in two, summed after
    (4, 33, 33, 17, 17, (3, 3), 1),   # the same with output tiles (the kernel has 2601 values)
    (4, 33, 33, 9, 9, (3, 3), 9),     # depthwise: the reduction kernel per group
    (1, 17, 17, 65, 129, (3, 3), 1),  # channels past one 64-wide tile
    (3, 17, 17, 130, 130, (3, 3), 2),  # groups of 65 channels
])
def test_conv2d_across_tiles_gpu(case):
    batch, h, w, cin, filters, kernel, groups = case
    config = {"rank": 2, "padding": "same", "groups": groups}
    arrays = [uniform((batch, h, w, cin), 50), uniform((*kernel, cin // groups, filters), 51) * 0.1, uniform((filters,), 52)]
    gpu_parity(conv_layer(config), arrays, what=f"conv2d {case}")


def test_empty_batch_gpu():
    """A batch of zero images: empty outputs and gradients, no kernel launched out of range."""
    x = np.zeros((0, 9, 9, 3), np.float32)
    config = {"rank": 2, "padding": "same"}
    gpu_parity(conv_layer(config), [x, uniform((3, 3, 3, 4), 53), uniform((4,), 54)], what="conv2d empty batch")
    gpu_parity(pool_layer({"rank": 2, "kind": "max", "pool_size": [2, 2], "strides": [2, 2]}), [x], what="max pool empty batch")
    gpu_parity(pool_layer({"rank": 2, "kind": "avg", "pool_size": [2, 2], "strides": [2, 2]}), [x], what="avg pool empty batch")


def test_conv2d_mixed_devices_raise():
    require_gpu()
    x = fn.tensor(uniform((1, 5, 5, 3), 55)).to("gpu")
    with pytest.raises(fn.errors.DeviceError, match="conv2d: expected all operands on gpu"):
        fn.ops.conv(x, fn.tensor(uniform((3, 3, 3, 2), 56)))


def test_conv_then_max_pool_predicts_like_the_cpu():
    """predict() fuses Conv2D -> MaxPooling2D into one CPU pass; on the GPU the two ops run."""
    require_gpu()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 17, 13, 2)).astype(np.float32)
    out = {}
    for device in ("cpu", "gpu"):
        fn.utils.set_random_seed(11)
        m = fn.Sequential([fn.Input((17, 13, 2)), fn.layers.Conv2D(5, 3, activation="relu"), fn.layers.MaxPooling2D(), fn.layers.Flatten(), fn.layers.Dense(3)], device=device)
        before = fn.config.cpu_fallbacks()
        out[device] = m.predict(x, verbose=0)
        assert fn.config.cpu_fallbacks() == before
    np.testing.assert_allclose(out["gpu"], out["cpu"], rtol=5e-3, atol=1e-5)

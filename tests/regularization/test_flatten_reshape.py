"""Flatten and Reshape against Keras 3 (keras-api.md section 2): the same values as NumPy's
reshape (channels_first inputs moved to channels_last first), -1 inference, summary shapes,
gradients back through the new shape, bad target shapes, and a model that trains through both."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises


def arange(shape):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


# ---- Flatten ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 2, 3, 4), (3, 7), (2, 1, 1, 1, 6), (4,)])
def test_flatten_matches_numpy_reshape(shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    out = fn.layers.Flatten()(x).numpy()
    expected = x.reshape(shape[0], -1)
    assert out.shape == expected.shape and out.tobytes() == expected.tobytes()
    assert fn.layers.Flatten(data_format="channels_last")(x).numpy().tobytes() == expected.tobytes()


def test_flatten_2_3_4_gives_24():
    x = arange((6, 2, 3, 4))
    model = fn.Sequential([fn.Input((2, 3, 4)), fn.layers.Flatten()])
    assert model.output_shape == (None, 24)
    out = model.predict(x, verbose=0)
    assert out.shape == (6, 24) and np.array_equal(out, x.reshape(6, 24))
    assert np.array_equal(model(x).numpy(), x.reshape(6, 24))
    assert np.array_equal(model(x, training=True).numpy(), x.reshape(6, 24))


@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (2, 3, 7), (2, 4, 2, 3, 2)])
def test_flatten_channels_first_moves_channels_last_first(shape):
    x = arange(shape)
    out = fn.layers.Flatten(data_format="channels_first")(x).numpy()
    expected = np.moveaxis(x, 1, -1).reshape(shape[0], -1)
    assert np.array_equal(out, expected)
    assert not np.array_equal(out, x.reshape(shape[0], -1))  # really a different order
    model = fn.Sequential([fn.Input(shape[1:]), fn.layers.Flatten(data_format="channels_first")])
    assert np.array_equal(model.predict(x, verbose=0), expected)


def test_flatten_channels_first_on_rank_2_is_plain():
    x = arange((3, 5))
    assert np.array_equal(fn.layers.Flatten(data_format="channels_first")(x).numpy(), x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_gradient_goes_back_to_the_input_layout(data_format):
    shape = (2, 3, 4, 5)
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    xt = fn.tensor(x, requires_grad=True)
    out = fn.layers.Flatten(data_format=data_format)(xt)
    w = np.random.default_rng(2).normal(size=out.shape).astype(np.float32)
    (out * w).sum().backward()
    if data_format == "channels_first":
        expected = np.moveaxis(w.reshape(2, 4, 5, 3), -1, 1)  # undo the move of channels last
    else:
        expected = w.reshape(shape)
    assert np.array_equal(xt.grad.numpy(), expected)


def test_flatten_bad_data_format_and_config():
    check_raises(ValueError, lambda: fn.layers.Flatten(data_format="channels_middle"), "Flatten", "'channels_middle'")
    layer = fn.layers.Flatten(data_format="channels_first")
    assert fn.layers.Flatten.from_config(layer.get_config()).data_format == "channels_first"
    assert fn.layers.Flatten().data_format == "channels_last"


# ---- Reshape ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target, expected", [
    ((4, 6), (4, 6)), ((-1, 4), (6, 4)), ((2, -1, 3), (2, 4, 3)), ((24,), (24,)), ((-1,), (24,)), ((1, 24, 1), (1, 24, 1)),
])
def test_reshape_matches_numpy(target, expected):
    x = np.random.default_rng(3).normal(size=(5, 2, 3, 4)).astype(np.float32)
    layer = fn.layers.Reshape(target)
    assert layer.compute_output_shape((None, 2, 3, 4)) == (None,) + expected
    out = layer(x).numpy()
    assert out.shape == (5,) + expected and out.tobytes() == x.reshape((5,) + expected).tobytes()


def test_reshape_keeps_the_batch_axis_whatever_its_size():
    for n in (1, 3, 7):
        x = arange((n, 12))
        assert np.array_equal(fn.layers.Reshape((3, 4))(x).numpy(), x.reshape(n, 3, 4))


def test_reshape_gradient():
    x = np.random.default_rng(4).normal(size=(3, 12)).astype(np.float32)
    xt = fn.tensor(x, requires_grad=True)
    out = fn.layers.Reshape((2, -1, 3))(xt)
    assert out.shape == (3, 2, 2, 3)
    w = np.random.default_rng(5).normal(size=out.shape).astype(np.float32)
    (out * w).sum().backward()
    assert np.array_equal(xt.grad.numpy(), w.reshape(3, 12))


def test_summary_shows_reshaped_and_flattened_shapes():
    fn.utils.clear_session()
    model = fn.Sequential([fn.Input((24,)), fn.layers.Reshape((4, -1)), fn.layers.Dense(3), fn.layers.Flatten(),
                           fn.layers.Reshape((2, 2, 3)), fn.layers.Flatten(data_format="channels_first"), fn.layers.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines[0].splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert cells == [
        ["reshape (Reshape)", "(None, 4, 6)", "0"],
        ["dense (Dense)", "(None, 4, 3)", "21"],
        ["flatten (Flatten)", "(None, 12)", "0"],
        ["reshape_1 (Reshape)", "(None, 2, 2, 3)", "0"],
        ["flatten_1 (Flatten)", "(None, 12)", "0"],
        ["dense_1 (Dense)", "(None, 1)", "13"],
    ]
    assert model.output_shape == (None, 1)
    assert model.predict(np.ones((2, 24), np.float32), verbose=0).shape == (2, 1)


@pytest.mark.parametrize("target", [(-1, -1), (0, 4), (-2, 3), (2.0, 4), ("2", 4), (None, 4)])
def test_reshape_bad_target_shape(target):
    check_raises(ValueError, lambda: fn.layers.Reshape(target), "Reshape", "target_shape")


@pytest.mark.parametrize("target", [(3, 3), (5, -1), (7,)])
def test_reshape_incompatible_with_the_input(target):
    layer = fn.layers.Reshape(target)
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((8,)), layer]), layer.name, "cannot reshape", "(8,)", str(target))
    layer = fn.layers.Reshape(target)
    check_raises(ValueError, lambda: layer(np.ones((2, 8), np.float32)), layer.name)


def test_reshape_config_round_trip():
    layer = fn.layers.Reshape((2, -1))
    config = layer.get_config()
    assert config["target_shape"] == [2, -1]
    assert fn.layers.Reshape.from_config(config).target_shape == (2, -1)


# ---- a model that trains through both ---------------------------------------------------------------

def test_reshape_flatten_dense_trains_one_step_like_a_plain_dense():
    # Input(8) -> Reshape(2, 4) -> Flatten -> Dense(1) is Dense(1) on the input: one SGD step of the
    # MSE moves the kernel by -lr * 2/N * x^T (x w + b - y).
    rng = np.random.default_rng(6)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)
    model = fn.Sequential([fn.Input((8,)), fn.layers.Reshape((2, 4)), fn.layers.Flatten(), fn.layers.Dense(1)])
    kernel, bias = rng.normal(size=(8, 1)).astype(np.float32), np.array([0.5], np.float32)
    model.set_weights([kernel, bias])
    lr = 0.1
    model.compile(fn.optimizers.SGD(lr), "mse")
    x64, k64 = x.astype(np.float64), kernel.astype(np.float64)
    residual = x64 @ k64 + 0.5 - y
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(np.mean(residual**2), rel=1e-5)
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, k64 - lr * 2 * x64.T @ residual / 16, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_bias, 0.5 - lr * 2 * residual.mean(0), rtol=1e-5, atol=1e-6)
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0)
    assert history.history["loss"][-1] < loss


def test_dense_between_reshape_and_flatten_acts_on_the_last_axis():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    model = fn.Sequential([fn.Input((8,)), fn.layers.Reshape((2, 4)), fn.layers.Dense(3), fn.layers.Flatten()])
    kernel, bias = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    model.set_weights([kernel, bias])
    expected = (x.reshape(4, 2, 4).astype(np.float64) @ kernel + bias).reshape(4, 6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.compile(fn.optimizers.SGD(0.05), "mse")
    before = model.get_weights()[0].copy()
    model.train_on_batch(x, np.zeros((4, 6), np.float32))
    assert not np.array_equal(model.get_weights()[0], before)

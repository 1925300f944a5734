"""Embedding (lookup and scatter-add gradient with repeated indices, index dtypes, mask_zero,
regularizer) and TimeDistributed (Dense and Conv1D per timestep, gradients) against NumPy."""

import numpy as np
import pytest

import ferronet as fn

from ..cnn import reference as cnn_ref
from ..cnn.common import check_against_reference, randomize_weights
from ..helpers import STRICT, assert_close
from .common import seeded

L = fn.layers

INDICES = np.array([[1, 4, 1, 0], [4, 4, 2, 1], [0, 0, 3, 4]])


def _embedding(input_dim=5, output_dim=3, **kwargs):
    layer = L.Embedding(input_dim, output_dim, **kwargs)
    layer.build((None, 4))
    table = np.random.default_rng(0).normal(size=(input_dim, output_dim)).astype(np.float32)
    layer.set_weights([table])
    return layer, table


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.float32, np.float64])
def test_embedding_lookup_any_index_dtype(dtype):
    layer, table = _embedding()
    out = layer(INDICES.astype(dtype))
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out.numpy(), table[INDICES])


def test_embedding_gradient_scatter_adds_repeated_indices():
    layer, table = _embedding()
    w = np.random.default_rng(1).normal(size=(3, 4, 3))
    (layer(INDICES) * w.astype(np.float32)).sum().backward()
    expected = np.zeros_like(table, dtype=np.float64)
    np.add.at(expected, INDICES, w)  # index 4 appears four times, 1 and 0 three times
    assert_close(layer.embeddings.grad.numpy(), expected, STRICT, what="embedding gradient")
    assert np.all(layer.embeddings.grad.numpy()[[2, 3]] != 0)


def test_embedding_rank_1_and_rank_3_indices():
    layer, table = _embedding()
    np.testing.assert_array_equal(layer(np.array([3, 0, 3])).numpy(), table[[3, 0, 3]])
    idx = np.random.default_rng(2).integers(0, 5, size=(2, 3, 2))
    np.testing.assert_array_equal(layer(idx).numpy(), table[idx])
    assert layer.compute_output_shape((None, 3, 2)) == (None, 3, 2, 3)


def test_embedding_mask_zero():
    layer, table = _embedding(mask_zero=True)
    np.testing.assert_array_equal(layer.compute_mask(INDICES), INDICES != 0)
    np.testing.assert_array_equal(layer(INDICES).numpy(), table[INDICES])  # index 0 still looks up row 0


def test_embedding_default_initializer_is_uniform_005():
    layer = L.Embedding(200, 50)
    layer.build((None, 3))
    table = layer.get_weights()[0]
    assert table.shape == (200, 50)
    assert np.abs(table).max() <= 0.05 and table.std() > 0.02


def test_embedding_regularizer_adds_to_the_loss():
    losses = []
    for regularizer in (None, fn.regularizers.L2(0.5)):
        model = fn.Sequential([fn.Input((2,)), L.Embedding(3, 2, embeddings_initializer="ones", embeddings_regularizer=regularizer),
                               L.Flatten(), L.Dense(1, kernel_initializer="zeros")])
        model.compile(fn.optimizers.SGD(0.0), "mse")
        losses.append(model.evaluate(np.array([[0, 1]]), np.zeros((1, 1), np.float32), verbose=0))
    assert losses[1] - losses[0] == pytest.approx(0.5 * 6, rel=1e-5)  # the whole table, not only the looked-up rows


def test_embedding_trains_only_looked_up_rows():
    model = fn.Sequential([fn.Input((2,)), L.Embedding(4, 2), L.Flatten(), L.Dense(1)])
    before = model.layers[0].get_weights()[0]
    model.compile(fn.optimizers.SGD(0.5), "mse")
    model.fit(np.array([[1, 2], [2, 1]]), np.ones((2, 1), np.float32), batch_size=2, epochs=1, verbose=0, shuffle=False)
    after = model.layers[0].get_weights()[0]
    np.testing.assert_array_equal(after[[0, 3]], before[[0, 3]])
    assert np.all(after[[1, 2]] != before[[1, 2]])


# ---- TimeDistributed -------------------------------------------------------------------------------

def test_time_distributed_dense_forward_and_gradients():
    layer = L.TimeDistributed(L.Dense(4, activation="tanh"))
    layer.build((None, 5, 3))
    randomize_weights(layer)
    check_against_reference(layer, seeded((2, 5, 3)), lambda x, kernel, bias: np.tanh(x @ kernel + bias))
    assert [w.shape for w in layer.get_weights()] == [(3, 4), (4,)]
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 4)


def test_time_distributed_conv1d_forward_and_gradients():
    layer = L.TimeDistributed(L.Conv1D(2, 3, padding="same"))
    layer.build((None, 3, 6, 2))
    randomize_weights(layer)

    def reference(x, kernel, bias):
        flat = x.reshape(-1, *x.shape[2:])
        out = cnn_ref.conv(flat, kernel, bias, padding="same")
        return out.reshape(*x.shape[:2], *out.shape[1:])

    out = check_against_reference(layer, seeded((2, 3, 6, 2)), reference)
    assert out.shape == (2, 3, 6, 2)


def test_time_distributed_shares_the_inner_layers_weights():
    dense = L.Dense(2)
    layer = L.TimeDistributed(dense)
    layer.build((None, 4, 3))
    assert layer.get_weights()[0] is not None and len(layer.get_weights()) == 2
    dense.set_weights([np.ones((3, 2), np.float32), np.zeros(2, np.float32)])
    np.testing.assert_array_equal(layer(np.ones((1, 4, 3), np.float32)).numpy(), np.full((1, 4, 2), 3.0))
    layer.trainable = False
    assert not dense.trainable and layer.trainable_weights == []

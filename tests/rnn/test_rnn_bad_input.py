"""Bad input to the recurrent-family layers: each a clear exception (never a panic) that names
the layer and the shapes or values involved."""

import numpy as np
import pytest

import ferronet as fn

from ..helpers import check_raises

L = fn.layers
ShapeError = fn.errors.ShapeError


def _built(cls=L.LSTM, units=3, features=4, **kwargs):
    layer = cls(units, name=f"{cls.__name__.lower()}_under_test", **kwargs)
    layer(np.zeros((2, 3, features), np.float32))
    return layer


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
def test_input_that_is_not_3d(cls):
    layer = cls(2, name="fresh")
    check_raises(ValueError, lambda: layer(np.zeros((2, 4), np.float32)), "fresh", "3-D", "(2, 4)")
    check_raises(ValueError, lambda: layer(np.zeros((2, 3, 4, 1), np.float32)), "fresh", "3-D", "(2, 3, 4, 1)")
    built = _built(cls)
    check_raises(ValueError, lambda: built(np.zeros((2, 4), np.float32)), built.name, "3-D", "(2, 4)")
    bidi = L.Bidirectional(cls(2), name="bidi")
    check_raises(ValueError, lambda: bidi(np.zeros((5, 4), np.float32)), "bidi", "3-D", "(5, 4)")


def test_2d_input_in_a_sequential():
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((4,)), L.LSTM(2, name="needs_3d")]), "needs_3d", "3-D", "(None, 4)")


def test_wrong_feature_count_after_build():
    layer = _built(L.GRU, features=4)
    check_raises(ShapeError, lambda: layer(np.zeros((2, 3, 5), np.float32)), layer.name, "4 features", "(2, 3, 5)")
    model = fn.Sequential([fn.Input((3, 4)), L.LSTM(2, name="in_model")])
    check_raises(ValueError, lambda: model.predict(np.zeros((2, 3, 5), np.float32), verbose=0), "(2, 3, 5)")


def test_zero_timesteps():
    check_raises(ValueError, lambda: L.SimpleRNN(2, name="empty_seq")(np.zeros((2, 0, 3), np.float32)), "empty_seq", "timestep", "(2, 0, 3)")


def test_mask_of_the_wrong_shape():
    layer = _built()
    x = np.zeros((2, 3, 4), np.float32)
    for mask in (np.ones((2, 4)), np.ones(3), np.ones((2, 3, 1)), np.ones((3, 3))):
        check_raises(ShapeError, lambda: layer(x, mask=mask), layer.name, "mask of shape (2, 3)", str(mask.shape))
    bidi = L.Bidirectional(L.GRU(2))
    check_raises(ShapeError, lambda: bidi(x, mask=np.ones((2, 5))), "mask of shape (2, 3)", "(2, 5)")


def test_wrong_initial_states():
    x = np.zeros((2, 3, 4), np.float32)
    lstm = _built(L.LSTM)
    check_raises(ValueError, lambda: lstm(x, initial_state=[np.zeros((2, 3))]), lstm.name, "expected 2 initial state", "got 1")
    check_raises(ValueError, lambda: lstm(x, initial_state=[np.zeros((2, 3))] * 3), lstm.name, "expected 2", "got 3")
    check_raises(ShapeError, lambda: lstm(x, initial_state=[np.zeros((2, 3)), np.zeros((2, 4))]), lstm.name, "(2, 3)", "(2, 4)")
    check_raises(ShapeError, lambda: lstm(x, initial_state=[np.zeros((1, 3))] * 2), lstm.name, "(2, 3)", "(1, 3)")
    gru = _built(L.GRU)
    check_raises(ValueError, lambda: gru(x, initial_state=[np.zeros((2, 3))] * 2), gru.name, "expected 1 initial state", "got 2")
    bidi = L.Bidirectional(L.LSTM(3), name="bidi_states")
    check_raises(ValueError, lambda: bidi(x, initial_state=[np.zeros((2, 3))] * 2), "bidi_states", "4 initial state", "got 2")


def test_stateful_batch_change():
    layer = L.SimpleRNN(2, stateful=True, name="keeps_batch")
    layer(np.zeros((4, 3, 2), np.float32))
    check_raises(ShapeError, lambda: layer(np.zeros((3, 3, 2), np.float32)), "keeps_batch", "batch of 4", "(3, 3, 2)", "reset_states()")


@pytest.mark.parametrize("bad,shown", [(np.array([[1, 5]]), "5"), (np.array([[-1, 2]]), "-1"), (np.array([[1.5, 2]]), "1.5"),
                                       (np.array([[np.nan, 1]]), "NaN"), (np.array([[np.inf, 1]]), "inf")])
def test_embedding_index_out_of_range_negative_or_not_whole(bad, shown):
    layer = L.Embedding(5, 2, name="vocab5")
    check_raises(ValueError, lambda: layer(bad), "vocab5", "[0, 5)", shown, "(1, 2)")
    model = fn.Sequential([fn.Input((2,)), L.Embedding(5, 2, name="vocab5_model")])
    if np.all(np.isfinite(bad)):
        check_raises(ValueError, lambda: model.predict(bad, verbose=0), "vocab5_model", shown)
    else:  # predict screens its input first
        check_raises(ValueError, lambda: model.predict(bad, verbose=0), "NaN or infinite")


def test_invalid_constructor_arguments():
    for cls in (L.SimpleRNN, L.LSTM, L.GRU):
        owner = cls.__name__
        for units in (0, -2, 2.0, None, True):
            check_raises(ValueError, lambda: cls(units), owner, "units", repr(units))
        for arg in ("dropout", "recurrent_dropout"):
            for rate in (1.0, -0.1, 1.5, "0.1"):
                check_raises(ValueError, lambda: cls(2, **{arg: rate}), owner, arg, repr(rate))
        check_raises(ValueError, lambda: cls(2, activation="softmax"), owner, "elementwise", "softmax")
        check_raises(ValueError, lambda: cls(2, activation="no_such_thing"), "no_such_thing")
        check_raises(NotImplementedError, lambda: cls(2, kernel_constraint="non_neg"), owner, "kernel_constraint")
        check_raises(TypeError, lambda: cls(2, bogus=1), owner, "bogus")
    for cls in (L.LSTM, L.GRU):
        check_raises(ValueError, lambda: cls(2, recurrent_activation="softmax"), cls.__name__, "recurrent_activation", "softmax")
        check_raises(ValueError, lambda: cls(2, implementation=3), cls.__name__, "implementation", "3")
    check_raises(ValueError, lambda: L.Embedding(0, 2), "Embedding", "input_dim=0")
    check_raises(ValueError, lambda: L.Embedding(3, -1), "Embedding", "output_dim=-1")
    check_raises(ValueError, lambda: L.TimeDistributed("dense"), "TimeDistributed", "'dense'")
    check_raises(ValueError, lambda: L.TimeDistributed(L.Dense(2), name="td")(np.zeros((2, 3), np.float32)), "td", "rank 3", "(None, 3)")


def test_embedding_input_length_is_deprecated():
    with pytest.warns(UserWarning, match="deprecated. Just remove it."):
        layer = L.Embedding(3, 2, input_length=4)
    assert "input_length" not in layer.get_config()


def test_set_weights_with_wrong_layouts():
    gru = L.GRU(3, name="gru_after")  # reset_after=True: bias (2, 9), not Keras's reset_after=False (9,)
    gru.build((None, 2, 4))
    check_raises(ValueError, lambda: gru.set_weights([np.zeros((4, 9)), np.zeros((3, 9)), np.zeros(9)]), "(2, 9)", "(9,)")
    lstm = L.LSTM(3, name="lstm_count")
    lstm.build((None, 2, 4))
    check_raises(ValueError, lambda: lstm.set_weights([np.zeros((4, 12))]), "lstm_count", "3 weight arrays", "got 1")


def test_bidirectional_merge_mode_none_alone_in_a_sequential():
    # Built from its Input at construction: the several outputs are refused there.
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((3, 4)), L.Bidirectional(L.LSTM(2), merge_mode=None, name="two_outputs")]),
                 "two_outputs", "2 tensors", "merge_mode=None")
    # Without an Input, at the first call.
    model = fn.Sequential([L.Bidirectional(L.LSTM(2), merge_mode=None, name="two_outputs_lazy")])
    check_raises(ValueError, lambda: model.predict(np.zeros((2, 3, 4), np.float32), verbose=0), "two_outputs_lazy", "merge_mode")


def test_bidirectional_merge_mode_none_followed_by_a_layer():
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((3, 4)), L.Bidirectional(L.LSTM(2), merge_mode=None, name="two_outputs"),
                                                    L.Dense(1)]), "two_outputs", "merge_mode")


def test_return_state_in_a_sequential():
    check_raises(ValueError, lambda: fn.Sequential([fn.Input((3, 4)), L.LSTM(2, return_state=True, name="with_states")]),
                 "with_states", "3 tensors", "return_state=True")


def test_bidirectional_merge_mode_none_in_fit():
    model = fn.Sequential([L.Bidirectional(L.LSTM(2), merge_mode=None, name="two_outputs")])
    model.compile(fn.optimizers.SGD(0.1), "mse")
    check_raises(ValueError, lambda: model.fit(np.zeros((2, 3, 4), np.float32), np.zeros((2, 2), np.float32), verbose=0),
                 "two_outputs", "merge_mode")

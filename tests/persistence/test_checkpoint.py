"""ModelCheckpoint (Keras 3 semantics) and exact resuming: a run interrupted after epoch k and
continued from its checkpoint with initial_epoch=k ends with the weights of an uninterrupted run."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ferronet as fn

L = fn.layers


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    return x, (x.sum(axis=1) > 0).astype(np.int64)


def make_model():
    # Shuffles, an unseeded and a seeded dropout, batch statistics and Adam's moments: every
    # kind of state a resumed run must continue.
    model = fn.Sequential([fn.Input((6,)), L.Dense(16, activation="relu"), L.Dropout(0.3), L.BatchNormalization(),
                           L.Dense(8, activation="relu"), L.Dropout(0.2, seed=7), L.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, epochs, initial_epoch=0, callbacks=None):
    x, y = data()
    return model.fit(x, y, epochs=epochs, initial_epoch=initial_epoch, batch_size=16, validation_split=0.25,
                     callbacks=callbacks, verbose=0)


def uninterrupted(epochs):
    fn.utils.set_random_seed(123)
    model = make_model()
    fit(model, epochs)
    return model.get_weights()


def test_resume_from_checkpoint_gives_exactly_the_uninterrupted_weights(tmp_path):
    expected = uninterrupted(5)
    fn.utils.set_random_seed(123)
    model = make_model()
    fit(model, 2, callbacks=[fn.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.ferronet"), monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.ferronet", "ckpt-02.ferronet"]
    del model
    fn.utils.set_random_seed(999)  # the resumed process's own random state must not matter
    resumed = fn.models.load_model(tmp_path / "ckpt-02.ferronet")
    fit(resumed, 5, initial_epoch=2)
    for got, want in zip(resumed.get_weights(), expected):
        np.testing.assert_array_equal(got, want)


def test_resume_in_a_fresh_process(tmp_path):
    """The same, with the resumed run in another interpreter (nothing shared but the file)."""
    expected = uninterrupted(3)
    fn.utils.set_random_seed(123)
    model = make_model()
    fit(model, 1, callbacks=[fn.callbacks.ModelCheckpoint(str(tmp_path / "last.ferronet"), monitor="loss")])
    script = textwrap.dedent(f"""
        import sys, numpy as np, ferronet as fn
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        from persistence.test_checkpoint import fit
        model = fn.models.load_model({str(tmp_path / "last.ferronet")!r})
        fit(model, 3, initial_epoch=1)
        np.savez({str(tmp_path / "w.npz")!r}, *model.get_weights())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    got = np.load(tmp_path / "w.npz")
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(got[f"arr_{i}"], want)


def test_fit_continued_in_process_matches_one_long_fit():
    expected = uninterrupted(4)
    fn.utils.set_random_seed(123)
    model = make_model()
    fit(model, 2)
    fit(model, 4, initial_epoch=2)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(got, want)


def test_filepath_formatting_with_log_values(tmp_path):
    fn.utils.set_random_seed(0)
    model = make_model()
    fit(model, 2, callbacks=[fn.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.keras"))])
    names = sorted(os.listdir(tmp_path))
    history = model.history.history["val_loss"]
    assert names == [f"m-01-{history[0]:.2f}.keras", f"m-02-{history[1]:.2f}.keras"]
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit(make_model(), 1, callbacks=[fn.callbacks.ModelCheckpoint(str(tmp_path / "{nope}.keras"))])


def test_save_best_only_keeps_the_best_epoch(tmp_path, capsys):
    fn.utils.set_random_seed(1)
    model = make_model()
    best = []

    class Record(fn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if not best or logs["val_loss"] < best[-1][1]:
                best.append((self.model.get_weights(), logs["val_loss"]))

    path = tmp_path / "best.weights.safetensors"
    ckpt = fn.callbacks.ModelCheckpoint(str(path), save_best_only=True, save_weights_only=True, verbose=1)
    fit(model, 6, callbacks=[ckpt, Record()])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to" in out and "saving model to" in out
    assert ckpt.best == pytest.approx(best[-1][1])
    fresh = fn.models.clone_model(model)
    fresh.load_weights(path)
    for got, want in zip(fresh.get_weights(), best[-1][0]):
        np.testing.assert_array_equal(got, want)


def test_mode_max_and_initial_value_threshold(tmp_path, capsys):
    fn.utils.set_random_seed(2)
    ckpt = fn.callbacks.ModelCheckpoint(str(tmp_path / "m.ferronet"), monitor="val_accuracy", mode="max", save_best_only=True,
                                        initial_value_threshold=1.01, verbose=1)
    fit(make_model(), 2, callbacks=[ckpt])
    assert not os.listdir(tmp_path)  # accuracy never beats 1.01
    assert "Epoch 2: val_accuracy did not improve from 1.01000" in capsys.readouterr().out


def test_save_freq_in_batches(tmp_path):
    fn.utils.set_random_seed(3)
    saved = []
    ckpt = fn.callbacks.ModelCheckpoint(str(tmp_path / "b-{epoch}-{batch}.ferronet"), monitor="loss", save_freq=3)
    original = ckpt.model
    fit(make_model(), 1, callbacks=[ckpt])  # 72 training samples / 16 = 5 batches: a save after batch 3
    saved = sorted(os.listdir(tmp_path))
    assert saved == ["b-1-3.ferronet"] and original is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="must end in one of"):
        fn.callbacks.ModelCheckpoint("m.h5")
    with pytest.raises(ValueError, match="must end in one of"):
        fn.callbacks.ModelCheckpoint("m.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="unrecognized save_freq"):
        fn.callbacks.ModelCheckpoint("m.keras", save_freq="batch")


def test_missing_monitor_warns_and_skips(tmp_path):
    fn.utils.set_random_seed(4)
    with pytest.warns(UserWarning, match="Can save best model only with val_auc available"):
        fit(make_model(), 1, callbacks=[fn.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_auc", save_best_only=True)])
    assert not os.listdir(tmp_path)

"""`ferronet.distribute` without a launcher: the same script trains as one process, bit for bit;
rank-0-only callbacks and the missing-mpi4py error, checked by faking a launcher's environment."""

import sys

import numpy as np
import pytest

import ferronet as fn


def _trained(**fit_kwargs):
    fn.utils.set_random_seed(3)
    model = fn.Sequential([fn.Input((4,)), fn.layers.Dense(5, activation="relu"), fn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    y = np.arange(50) % 2
    fit_kwargs.setdefault("verbose", 0)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, **fit_kwargs)
    return model, history


def test_data_parallel_alone_is_one_process():
    strategy = fn.distribute.DataParallel()
    assert (strategy.rank, strategy.world_size) == (0, 1)
    assert (fn.distribute.rank(), fn.distribute.world_size()) == (0, 1)
    assert fn.distribute.MPIStrategy is fn.distribute.DataParallel
    plain, plain_history = _trained()
    with strategy.scope():
        scoped, scoped_history = _trained()
    assert scoped.distribute_strategy is strategy and plain.distribute_strategy is None
    explicit, _ = _trained(distribute=strategy)
    for a, b, c in zip(plain.get_weights(), scoped.get_weights(), explicit.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert plain_history.history == scoped_history.history


def test_fit_rejects_other_distribute_values():
    with pytest.raises(TypeError, match="expected distribute to be a ferronet.distribute.DataParallel, got str"):
        _trained(distribute="mpi")


def test_only_rank_zero_writes(tmp_path, monkeypatch, capsys):
    # As Open MPI's launcher would start rank 1 of 2; no strategy, so no MPI is initialised.
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert (fn.distribute.rank(), fn.distribute.world_size()) == (1, 2)
    logger = fn.callbacks.CSVLogger(tmp_path / "log.csv")
    checkpoint = fn.callbacks.ModelCheckpoint(tmp_path / "ckpt.ferronet")
    history = fn.callbacks.History()
    _, result = _trained(verbose=1, callbacks=[logger, checkpoint, history])
    assert not (tmp_path / "log.csv").exists() and not (tmp_path / "ckpt.ferronet").exists()
    assert capsys.readouterr().out == ""
    assert len(history.history["loss"]) == 2  # callbacks that do not write still run
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    _trained(verbose=1, callbacks=[logger, checkpoint])
    assert (tmp_path / "log.csv").read_text().startswith("epoch,") and (tmp_path / "ckpt.ferronet").exists()
    assert "Epoch 1/2" in capsys.readouterr().out


def test_launcher_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    with pytest.raises(ImportError, match=r"rank 0 of 4 .* mpi4py is not installed; install it with `pip install 'ferronet\[mpi\]'`"):
        fn.distribute.DataParallel()


def test_thread_count_is_fixed_once_kernels_ran():
    _trained()
    running = fn._core.num_threads()
    assert fn._core.set_num_threads(running + 3) == running

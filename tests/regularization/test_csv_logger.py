"""CSVLogger writes Keras's file: header `epoch,<sorted keys>`, 0-based epochs, Python float text."""

import csv

import pytest

import ferronet as fn

from .scripted import FakeModel


def read_rows(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_csv_logger_columns_and_values(data, make_model, tmp_path):
    x, y = data
    path = tmp_path / "log.csv"
    history = make_model(metrics=["mae"]).fit(
        x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25,
        callbacks=[fn.callbacks.ReduceLROnPlateau(), fn.callbacks.CSVLogger(path)])
    rows = read_rows(path)
    header = ["epoch", "learning_rate", "loss", "mae", "val_loss", "val_mae"]
    assert rows[0] == header
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for key in header[1:]:
        column = [float(r[header.index(key)]) for r in rows[1:]]
        assert column == history.history[key]  # repr text round-trips exactly
    assert path.read_bytes().count(b"\r\n") == 4  # the csv module's line ending, as in Keras's files


def test_csv_logger_separator_and_append(data, make_model, tmp_path):
    x, y = data
    path = tmp_path / "log.csv"
    model = make_model()
    for _ in range(2):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[fn.callbacks.CSVLogger(str(path), separator=";", append=True)])
    rows = read_rows(path, ";")
    assert rows[0] == ["epoch", "loss"]
    assert [r[0] for r in rows] == ["epoch", "0", "1", "0", "1"]  # one header only
    model.fit(x, y, epochs=1, verbose=0, callbacks=[fn.callbacks.CSVLogger(path)])
    assert len(read_rows(path)) == 2  # append=False overwrites


def test_csv_logger_missing_values_are_na(tmp_path):
    # Columns come from the first epoch plus the model's expected val_ names; absent values are NA.
    path = tmp_path / "log.csv"
    model = FakeModel()
    model.metrics_names = ["loss", "val_loss"]
    logger = fn.callbacks.CSVLogger(path)
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5})
    logger.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.75, "extra": 1.0})
    logger.on_train_end()
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "0.5", "NA"], ["1", "0.25", "0.75"]]


def test_csv_logger_iterable_values(tmp_path):
    path = tmp_path / "log.csv"
    logger = fn.callbacks.CSVLogger(path)
    logger.set_model(FakeModel())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"f1": [0.5, 0.25]})
    logger.on_train_end()
    assert read_rows(path)[1] == ["0", '"[0.5, 0.25]"']


def test_csv_logger_unwritable_path(tmp_path):
    logger = fn.callbacks.CSVLogger(tmp_path / "missing" / "log.csv")
    with pytest.raises(FileNotFoundError):
        logger.on_train_begin()

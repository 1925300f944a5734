"""`CSVLogger`: stream each epoch's logs to a CSV file, in Keras's format."""

import collections.abc
import csv
import os

import numpy as np

from ferronet.callbacks.callback import Callback


def _cell(value):
    """Keras's `handle_value`: strings and numbers as they are, 1-D iterables as "[a, b]"."""
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, collections.abc.Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write one row per epoch: `epoch` (0-based), then the log keys in sorted order.

    The columns are fixed at the first epoch (plus any `val_` names in `model.metrics_names`, as
    Keras does); a key missing from a later epoch is written as `NA`. Rows end with "\\r\\n" (the
    csv module's default, which is what Keras's files contain on Linux and macOS).

    Args:
        filename: the CSV path (str or path-like).
        separator: the field delimiter. Default ",".
        append: append to an existing file (no second header). Default False: overwrite.

    Example:
    >>> import ferronet as fn
    >>> logger = fn.callbacks.CSVLogger("training.log", separator=";", append=True)
    >>> (logger.filename, logger.sep, logger.append)
    ('training.log', ';', True)
    """

    rank_zero_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r", newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        self._close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            for name in getattr(self.model, "metrics_names", None) or []:
                if name.startswith("val_") and name not in self.keys:
                    self.keys.append(name)
        if self.writer is None:
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None

    def _close(self):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()

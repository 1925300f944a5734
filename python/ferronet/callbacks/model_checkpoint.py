"""`ModelCheckpoint`: save the model (or its weights) during training, Keras 3 semantics. Files
are written atomically, so a run killed mid-save keeps its previous checkpoint."""

import os
import warnings

from ferronet.callbacks.monitor_callback import MonitorCallback

_MODEL_SUFFIXES = (".keras", ".ferronet")
_WEIGHTS_SUFFIXES = (".weights.h5", ".weights.safetensors")


class ModelCheckpoint(MonitorCallback):
    """Save the model every epoch (or every `save_freq` batches), or only when `monitor` improves.

    Args:
        filepath: a file name, formatted with `epoch` (1-based), `batch` and any log key, e.g.
            `"ckpt-{epoch:02d}-{val_loss:.2f}.ferronet"`. `.ferronet` files also hold the optimizer
            state and the run's seed, so `fit(initial_epoch=k)` from one continues exactly; `.keras`
            files are Keras 3 files. With `save_weights_only`: `.weights.safetensors` or `.weights.h5`.
        monitor: the log key compared for `save_best_only`. Default "val_loss".
        verbose: 1 prints a line per save (Keras's messages). Default 0.
        save_best_only: save only when `monitor` improves on the best so far. Default False.
        save_weights_only: save weights only (`save_weights`). Default False.
        mode: "auto", "min" or "max" for `monitor`. Default "auto".
        save_freq: "epoch", or a number of batches between saves. Default "epoch".
        initial_value_threshold: the value `monitor` must beat for the first save. Default None.

    Example:
    >>> import ferronet as fn
    >>> ckpt = fn.callbacks.ModelCheckpoint("best.ferronet", monitor="val_loss", save_best_only=True)
    >>> ckpt.save_best_only
    True
    """

    rank_zero_only = True  # one file per job, written by rank 0 (every rank holds the same weights)

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False, mode="auto",
                 save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.initial_value_threshold = initial_value_threshold
        suffixes = _WEIGHTS_SUFFIXES if save_weights_only else _MODEL_SUFFIXES
        if not self.filepath.endswith(suffixes):
            what = "save_weights_only=True" if save_weights_only else "save_weights_only=False"
            raise ValueError(f"ModelCheckpoint: with {what}, the filepath must end in one of {suffixes}. Received: filepath={self.filepath}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: unrecognized save_freq: {save_freq!r}; expected 'epoch' or a positive int")
        self.save_freq = save_freq
        self._epoch = 0
        self._batches_since_save = 0
        if save_freq != "epoch":
            # Per-batch hooks only when asked: a class-level hook would make every fit call back
            # into Python after each batch.
            self.on_train_batch_end = self._on_train_batch_end
            self._wants_batches = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            if self.monitor_op is None:
                self._set_monitor_op()
                self.best = self.initial_value_threshold  # "improved from None" until a first save
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                best = "None" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)

    def _file_path(self, epoch, batch, logs):
        try:
            if batch is None:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None

"""`ProgbarLogger`: prints `Epoch i/N` and the progress bar, as Keras's does. Values appear in log
order: the loop's sorted keys, then keys callbacks added (`learning_rate`), as in Keras."""

import sys

from ferronet.callbacks.callback import Callback
from ferronet.utils.progbar import Progbar


class ProgbarLogger(Callback):
    """Progress output for `fit` (verbose 1: a bar; verbose 2: a line per epoch)."""

    rank_zero_only = True

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.params.get("epochs", 1) > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
        self._bar = Progbar(self.params.get("steps") or 1, verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.update(self.params.get("steps") or 1, list((logs or {}).items()), finalize=True)

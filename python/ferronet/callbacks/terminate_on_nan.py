"""`TerminateOnNaN`: stop training as soon as the loss is NaN or infinite."""

import math

from ferronet.callbacks.callback import Callback


def _invalid(loss):
    return loss is not None and not math.isfinite(float(loss))


class TerminateOnNaN(Callback):
    """Stop `fit` after the first batch whose running `loss` is NaN or infinite.

    It overrides a batch hook, so the engine's loop calls back after every batch while it is in
    the callback list. The epoch-end logs are checked too (for loops that report only epochs).

    Args:
        raise_error: raise RuntimeError instead of stopping gracefully (then `on_train_end` of other
            callbacks does not run). Default False.

    Example:
    >>> import ferronet as fn
    >>> stop = fn.callbacks.TerminateOnNaN(raise_error=True)
    >>> stop.raise_error
    True
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def _check(self, what, index, logs):
        loss = (logs or {}).get("loss")
        if not _invalid(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at {what.lower()} {index}. Loss value: {loss}. Terminating training immediately.")
        print(f"{what} {index}: Invalid loss, terminating training")
        self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        self._check("Batch", batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if not getattr(self.model, "stop_training", False):
            self._check("Epoch", epoch, logs)

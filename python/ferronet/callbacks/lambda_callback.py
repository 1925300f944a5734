"""`LambdaCallback`: a callback made from plain functions."""

from ferronet.callbacks.callback import Callback

# Hooks taking an index (epoch or batch) before `logs`; the others take only `logs`.
_INDEXED = {"on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
            "on_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"}
_BATCH = {name for name in _INDEXED if "batch" in name}


def _with_logs(fn, indexed):
    """Call `fn` with `logs` always passed positionally, as Keras's loop does (ferronet's may omit it)."""
    count = 1 if indexed else 0

    def hook(*args, logs=None):
        return fn(*(args + (logs,) if len(args) == count else args))

    return hook


class LambdaCallback(Callback):
    """Build a callback from functions: `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`,
    `on_train_batch_end(batch, logs)`; any other hook by keyword (e.g. `on_test_end=fn`).

    The engine calls back every batch only when a batch function is given.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions or None. Default None.
        **kwargs: other hooks by name.

    Example:
    >>> import ferronet as fn
    >>> cb = fn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    >>> cb.on_epoch_end(0, {"loss": 0.5})
    0 0.5
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin, on_train_batch_end=on_train_batch_end)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if name.startswith("on_") and callable(fn):
                fn = _with_logs(fn, name in _INDEXED)
            setattr(self, name, fn)
        self._wants_batches = any(hooks.get(name) is not None for name in _BATCH)

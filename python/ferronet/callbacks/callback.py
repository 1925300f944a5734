"""`Callback` (every Keras hook) and `CallbackList` (runs them in order)."""

from ferronet.distribute import mpi


class Callback:
    """Base class for callbacks. Override any hook; `self.model` and `self.params` are set by `fit`.

    Example:
    >>> import ferronet as fn
    >>> class Stop(fn.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None): self.model.stop_training = True
    """

    #: Runs only on rank 0 of a multi-process (MPI) job: set by callbacks that write files or
    #: print, so N ranks do not write the same file N times. Every rank sees the same (global)
    #: logs, so callbacks that decide (EarlyStopping) run everywhere and decide alike.
    rank_zero_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs)
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def overrides_batch_hooks(callback, mode):
    """Whether `callback` overrides a batch hook of `mode` (then the loop calls back every batch)."""
    cls = type(callback)
    return any(getattr(cls, h, None) is not getattr(Callback, h) for h in _BATCH_HOOKS[mode]) or getattr(callback, "_wants_batches", False)


class CallbackList:
    """Runs a list of callbacks in order for each hook."""

    def __init__(self, callbacks, model, params):
        on_rank_zero = mpi.place()[0] == 0
        self.callbacks = [c for c in callbacks if on_rank_zero or not getattr(c, "rank_zero_only", False)]
        for c in self.callbacks:
            c.set_model(model)
            c.set_params(params)

    def wants_batches(self, mode):
        return any(overrides_batch_hooks(c, mode) for c in self.callbacks)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for c in self.callbacks:
                getattr(c, hook)(*args, **kwargs)

        return call

"""`GradientMonitor`: gradient flow per layer during `fit`, the diagnostic for vanishing and
exploding gradients."""

import math
import sys

from ferronet.callbacks.callback import Callback
from ferronet.distribute import rank


class GradientMonitor(Callback):
    """Record the gradient norm of every layer's weights during training, and warn (one line,
    once per `fit`) when the first layers' gradients vanish or any explode.

    A layer's norm is `sqrt(sum over its weights of |grad|^2)`, each weight's `|grad|` averaged
    over the training steps of the record: an epoch by default, or `every_n_batches` steps.
    Records go to `history.gradient_norms` (`{layer name: [norm per record]}`) and
    `history.gradient_norm_steps` (`[(epoch, batch)]`, batch None for whole epochs) of the
    `History` that `fit` returns; plot them with `ferronet.plot.gradient_norms(history)`.

    Args:
        every_n_batches: record every this many training steps; None (default): once per epoch.
        vanishing_ratio: warn when the first trainable layer's norm is below this fraction of
            the last one's. Default 1e-3.
        exploding_norm: warn when a layer's norm exceeds this, or is not finite. Default 1e3.
        verbose: 0 silences the warnings (the records are kept). Default 1.

    Example:
    >>> import numpy as np, ferronet as fn
    >>> model = fn.Sequential([fn.Input((4,)), fn.layers.Dense(3, activation="sigmoid"), fn.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[fn.callbacks.GradientMonitor()])
    >>> sorted(history.gradient_norms), len(history.gradient_norms["dense"])
    (['dense', 'dense_1'], 2)
    """

    def __init__(self, every_n_batches=None, vanishing_ratio=1e-3, exploding_norm=1e3, verbose=1):
        super().__init__()
        if every_n_batches is not None and (not isinstance(every_n_batches, int) or every_n_batches <= 0):
            raise ValueError(f"GradientMonitor: expected every_n_batches to be a positive int or None, got {every_n_batches!r}")
        self.every_n_batches = every_n_batches
        self.vanishing_ratio = vanishing_ratio
        self.exploding_norm = exploding_norm
        self.verbose = verbose
        self._wants_batches = every_n_batches is not None
        self.records = []
        self._epoch = 0

    # ---- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.records = []
        self._warned = set()
        self._layers = self._weight_owners()
        history = getattr(self.model, "history", None)
        if history is not None:
            history.gradient_norms = {name: [] for name, _ in self._layers}
            history.gradient_norm_steps = []
        engine = self.model._engine()
        engine.take_gradient_norms()  # drop anything left from an earlier fit
        engine.track_gradient_norms(True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_batches is not None and (batch + 1) % self.every_n_batches == 0:
            self._record(batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_batches is None:
            self._record(None)

    def on_train_end(self, logs=None):
        self.model._engine().track_gradient_norms(False)

    # ---- records -------------------------------------------------------------------------------
    def _weight_owners(self):
        """`[(layer name, how many trainable weights)]` in the engine's weight order."""
        owners = []
        for layer in self.model.layers:
            count = sum(1 for _, _, trainable in layer._weights if trainable)
            if count:
                owners.append((layer.name, count))
        return owners

    def _record(self, batch):
        norms, steps = self.model._engine().take_gradient_norms()
        if steps == 0:
            return
        if len(norms) != sum(count for _, count in self._layers):
            raise RuntimeError(f"GradientMonitor: the model has {len(norms)} trainable weights, its layers list "
                               f"{sum(c for _, c in self._layers)}")
        per_layer, at = {}, 0
        for name, count in self._layers:
            per_layer[name] = math.sqrt(sum(n * n for n in norms[at:at + count]))
            at += count
        self.records.append({"epoch": self._epoch, "batch": batch, "norms": per_layer})
        history = getattr(self.model, "history", None)
        if history is not None and hasattr(history, "gradient_norms"):
            for name, value in per_layer.items():
                history.gradient_norms[name].append(value)
            history.gradient_norm_steps.append((self._epoch, batch))
        self._check(per_layer)

    def _check(self, per_layer):
        if not self.verbose or rank() != 0:
            return
        names = list(per_layer)
        worst = max(names, key=lambda n: per_layer[n] if math.isfinite(per_layer[n]) else math.inf)
        value = per_layer[worst]
        if "exploding" not in self._warned and (not math.isfinite(value) or value > self.exploding_norm):
            self._warned.add("exploding")
            self._say(f"exploding gradients: {worst}'s gradient norm is {value:.3g} (above {self.exploding_norm:g}); "
                      f"try a lower learning rate, gradient clipping (clipnorm=1.0) or BatchNormalization")
        first, last = names[0], names[-1]
        if len(names) > 1 and "vanishing" not in self._warned and per_layer[last] > 0:
            ratio = per_layer[first] / per_layer[last]
            if ratio < self.vanishing_ratio:
                self._warned.add("vanishing")
                self._say(f"vanishing gradients: {first}'s gradient norm is {per_layer[first]:.3g}, {ratio:.2g} of "
                          f"{last}'s ({per_layer[last]:.3g}); try ReLU/ELU activations, He initialization or "
                          f"BatchNormalization")

    @staticmethod
    def _say(message):
        print(f"GradientMonitor: {message}", file=sys.stderr, flush=True)

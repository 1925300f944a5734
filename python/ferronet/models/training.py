"""fit / evaluate / predict / *_on_batch for Sequential: argument handling, callbacks and progress
in Python; each epoch's batch loop in the engine (`_core.Model.fit_epoch`, GIL released)."""

import math

import numpy as np

from ferronet import _random, distribute as _distribute
from ferronet.callbacks import CallbackList, History, ProgbarLogger
from ferronet.callbacks.callback import overrides_batch_hooks
from ferronet.models import data


def _verbosity(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: expected verbose in 0, 1, 2 or 'auto', got verbose={verbose!r}")
    return verbose


def _batch_size(batch_size, what):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"{what}: expected batch_size to be a positive int, got batch_size={batch_size!r}")
    return batch_size


def _sample_weight(sample_weight, n, what):
    if sample_weight is None:
        return None
    w = np.ascontiguousarray(sample_weight, dtype=np.float32).reshape(-1)
    if len(w) != n:
        raise ValueError(f"{what}: sample_weight must have one value per sample ({n}), got {len(w)}")
    if not np.isfinite(w).all():
        raise ValueError(f"{what}: sample_weight contains NaN or infinite values")
    return w


def _split_validation(x, y, sw, validation_split):
    """Keras takes the last samples for validation, before any shuffling."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"fit: expected validation_split in [0, 1), got {validation_split}")
    n_train = int(math.floor(len(x) * (1 - validation_split)))
    if n_train == 0 or n_train == len(x):
        raise ValueError(f"fit: validation_split={validation_split} leaves {n_train} training and {len(x) - n_train} validation samples of {len(x)}; both must be at least 1")
    val = (x[n_train:], y[n_train:], None if sw is None else sw[n_train:])
    return x[:n_train], y[:n_train], None if sw is None else sw[:n_train], val


def _ordered(logs, model):
    """Keras sorts log keys alphabetically."""
    return {k: float(logs[k]) for k in sorted(logs)}


def fit(model, distribute=None, **kwargs):
    strategy = _distribute.active(model, distribute)
    if strategy is None:
        return _fit(model, None, **kwargs)
    with strategy._abort_on_error():
        return _fit(model, strategy, **kwargs)


def _fit(model, strategy, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle, class_weight,
         sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
    model._require_compiled()
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size, "fit")
    if steps_per_epoch is not None:
        raise NotImplementedError("fit: steps_per_epoch is not supported for array inputs yet")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: expected epochs to be a non-negative int, got epochs={epochs!r}")
    x = data.as_samples(x, "fit")
    if y is None:
        raise ValueError("fit: expected targets y, got None")
    y_arr = np.asarray(y)
    data.check_lengths("fit", x, y_arr, sample_weight)
    if class_weight is not None and sample_weight is not None:
        raise ValueError("fit: `class_weight` and `sample_weight` cannot be used together")
    sw = _sample_weight(sample_weight, len(x), "fit")
    engine, y_arr = model._prepare(x, y_arr, "fit")
    if class_weight is not None:
        sw = data.class_weights_to_samples(class_weight, y_arr, "fit")
    val = None
    if validation_data is not None:
        if len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight)")
        vx = data.as_samples(validation_data[0], "fit", "validation x")
        data.check_input_shape(model, vx, "fit")
        vy = data.fit_targets(model.loss, validation_data[1], model._output_shape, "fit")
        data.check_lengths("fit", vx, vy)
        val = (vx, vy, _sample_weight(validation_data[2], len(vx), "fit") if len(validation_data) == 3 else None)
    elif validation_split:
        x, y_arr, sw, val = _split_validation(x, y_arr, sw, validation_split)
    freq = validation_freq

    steps = math.ceil(len(x) / batch_size)
    history = History()
    user = list(callbacks or [])
    extra = [history] + ([ProgbarLogger(verbose)] if verbose else [])
    cbs = CallbackList(user + extra, model, {"verbose": verbose, "epochs": epochs, "steps": steps})
    wants_batches = any(overrides_batch_hooks(c, "train") for c in user)
    # Without a progress bar or a batch-level callback nothing reads the logs between batches, and
    # the engine skips the calls (on a GPU it then reads losses back once per epoch, not per step).
    model.stop_training = False
    # Each epoch's shuffle and dropout seed is a function of this seed and the epoch index. A run
    # continued with initial_epoch > 0 (after an earlier fit, or from a loaded checkpoint, which
    # saves it) keeps its seed, so it ends with exactly the weights of an uninterrupted run.
    if initial_epoch > 0 and model._fit_seed is not None:
        base_seed = model._fit_seed
    else:
        base_seed = _random.next_seed()
    model._fit_seed = base_seed
    if strategy is not None:
        base_seed = strategy._broadcast_start(model, base_seed)
        model._fit_seed = base_seed
        strategy._attach(engine)

    def on_batch(step, logs):
        logs = _ordered(logs, model)
        cbs.on_train_batch_end(step, logs)
        if step + 1 < steps:
            cbs.on_train_batch_begin(step + 1)
        # Across ranks a stop waits for the epoch's end, where the ranks agree on it (one rank
        # leaving the loop alone would leave the others waiting in the next step's sum).
        return model.stop_training and strategy is None

    model.history = history  # from the start, so callbacks (GradientMonitor) can add to it
    cbs.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        cbs.on_train_batch_begin(0)
        seed = (base_seed + 0x9E3779B97F4A7C15 * (epoch + 1)) % 2**63
        hook = on_batch if (wants_batches or verbose) else None
        logs = _ordered(engine.fit_epoch(x, y_arr, sw, batch_size, bool(shuffle), seed, hook, wants_batches), model)
        run_validation = val is not None and ((epoch + 1) % freq == 0 if isinstance(freq, int) else (epoch + 1) in freq)
        if strategy is not None:
            strategy._average_statistics(model)
        if run_validation:
            evaluate = engine.evaluate if strategy is None else (lambda *a: strategy._evaluate(engine, *a))
            vlogs = evaluate(val[0], val[1], val[2], validation_batch_size or batch_size)
            logs.update({f"val_{k}": float(v) for k, v in vlogs.items()})
            logs = _ordered(logs, model)
        cbs.on_epoch_end(epoch, logs)
        if strategy is not None:
            model.stop_training = strategy._any(model.stop_training)
        if model.stop_training:
            break
    if strategy is not None:
        strategy._detach(engine)
    cbs.on_train_end(logs)
    history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    model.history = history
    return history


def _results(model, logs, return_dict):
    logs = _ordered(logs, model)
    if return_dict:
        return logs
    names = ["loss"] + [name for name, _ in model._resolved_metrics or []]
    values = [logs[n] for n in names if n in logs]
    return values[0] if len(values) == 1 else values


def evaluate(model, x, y, batch_size, verbose, sample_weight, callbacks, return_dict):
    strategy = _distribute.active(model)
    if strategy is None:
        return _evaluate(model, None, x, y, batch_size, verbose, sample_weight, callbacks, return_dict)
    with strategy._abort_on_error():
        return _evaluate(model, strategy, x, y, batch_size, verbose, sample_weight, callbacks, return_dict)


def _evaluate(model, strategy, x, y, batch_size, verbose, sample_weight, callbacks, return_dict):
    model._require_compiled()
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size, "evaluate")
    x = data.as_samples(x, "evaluate")
    if y is None:
        raise ValueError("evaluate: expected targets y, got None")
    y_arr = np.asarray(y)
    data.check_lengths("evaluate", x, y_arr, sample_weight)
    sw = _sample_weight(sample_weight, len(x), "evaluate")
    engine, y_arr = model._prepare(x, y_arr, "evaluate")
    steps = math.ceil(len(x) / batch_size)
    cbs = CallbackList(list(callbacks or []), model, {"verbose": verbose, "epochs": 1, "steps": steps})
    bar = None
    if verbose and _distribute.rank() == 0:
        from ferronet.utils.progbar import Progbar

        bar = Progbar(steps, verbose=verbose)

    def on_batch(step, logs):
        logs = _ordered(logs, model)
        cbs.on_test_batch_end(step, logs)
        if bar is not None:
            bar.update(step + 1, sorted(logs.items()), finalize=False)
        return False

    cbs.on_test_begin()
    run = engine.evaluate if strategy is None else (lambda *a: strategy._evaluate(engine, *a))
    logs = run(x, y_arr, sw, batch_size, on_batch, cbs.wants_batches("test"))
    if bar is not None:
        bar.update(steps, sorted(_ordered(logs, model).items()), finalize=True)
    cbs.on_test_end(_ordered(logs, model))
    return _results(model, logs, return_dict)


def predict(model, x, batch_size, verbose):
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size, "predict")
    x = data.as_samples(x, "predict")
    if not model.built:
        model.build((None,) + tuple(x.shape[1:]))
    data.check_input_shape(model, x, "predict")
    steps = math.ceil(len(x) / batch_size)
    bar = None
    if verbose and _distribute.rank() == 0:
        from ferronet.utils.progbar import Progbar

        bar = Progbar(steps, verbose=verbose)

    def on_batch(step, logs):
        if bar is not None:
            bar.update(step + 1, finalize=step + 1 == steps)
        return False

    return model._engine().predict(x, batch_size, on_batch if bar is not None else None)


def on_batch(model, x, y, sample_weight, class_weight, return_dict, train):
    what = "train_on_batch" if train else "test_on_batch"
    model._require_compiled()
    x = data.as_samples(x, what)
    y_arr = np.asarray(y)
    data.check_lengths(what, x, y_arr, sample_weight)
    sw = _sample_weight(sample_weight, len(x), what)
    engine, y_arr = model._prepare(x, y_arr, what)
    if class_weight is not None:
        sw = data.class_weights_to_samples(class_weight, y_arr, what)
    strategy = _distribute.active(model)
    if strategy is None:
        logs = engine.on_batch(x, y_arr, sw, train, _random.next_seed())
        return _results(model, logs, return_dict)
    with strategy._abort_on_error():
        logs = _on_batch_across_ranks(strategy, engine, model, x, y_arr, sw, train)
    return _results(model, logs, return_dict)


def _on_batch_across_ranks(strategy, engine, model, x, y, sw, train):
    """Each rank brings its own batch; the step and the figures are those of all of them together."""
    if not getattr(model, "_synced_across_ranks", False):
        strategy._broadcast_start(model, 0)
    if not train:
        return strategy._reduce_logs(engine.on_batch(x, y, sw, False, 0), len(x))
    strategy._attach(engine)
    logs = engine.on_batch(x, y, sw, True, _random.next_seed() + strategy.rank)
    strategy._detach(engine)
    strategy._average_statistics(model)
    return logs

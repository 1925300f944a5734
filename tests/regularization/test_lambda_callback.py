"""LambdaCallback calls its functions with Keras's arguments, and asks for batches only when needed."""

import ferronet as fn
from ferronet.callbacks.callback import overrides_batch_hooks


def test_lambda_callback_calls_every_function(data, make_model):
    x, y = data
    calls = []
    cb = fn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
    )
    make_model().fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.5, callbacks=[cb])
    epoch = [("batch_begin", 0), ("batch_end", 0, ["loss"])]
    assert calls == [("train_begin", None),
                     ("epoch_begin", 0), *epoch, ("epoch_end", 0, ["loss", "val_loss"]),
                     ("epoch_begin", 1), *epoch, ("epoch_end", 1, ["loss", "val_loss"]),
                     ("train_end", ["loss", "val_loss"])]


def test_lambda_callback_asks_for_batches_only_with_a_batch_function():
    assert not overrides_batch_hooks(fn.callbacks.LambdaCallback(on_epoch_end=print), "train")
    assert overrides_batch_hooks(fn.callbacks.LambdaCallback(on_train_batch_end=print), "train")
    assert overrides_batch_hooks(fn.callbacks.LambdaCallback(on_batch_begin=print), "train")


def test_lambda_callback_other_hooks_by_keyword(data, make_model):
    x, y = data
    seen = []
    cb = fn.callbacks.LambdaCallback(on_test_end=lambda logs: seen.append(sorted(logs)))
    make_model().evaluate(x, y, verbose=0, callbacks=[cb])
    assert seen == [["loss"]]


def test_lambda_callback_batch_hook_via_on_batch_end(data, make_model):
    x, y = data
    batches = []
    cb = fn.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))
    make_model().fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[cb])
    assert batches == [0, 1, 2, 3]

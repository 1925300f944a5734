"""Trained under `mpiexec -n N` (or alone, as the reference) by test_data_parallel.py.

    python mpi_train.py OUT_DIR CASE [failure]

CASE "dense": a dropout-free MLP, SGD with momentum or Adam (TEST_OPTIMIZER), batch 31 over 80
training samples (uneven shards, an uneven last batch), validation split, CSVLogger, per-epoch
printing; then a fit whose last batch (1 sample) leaves some ranks' shards empty.
CASE "batchnorm": BatchNormalization first (its statistics depend only on the data), even shards.
Each rank saves its final weights and history to OUT_DIR/rank{r}.npz. `failure` makes rank 1
raise (`raise`), raise after fit (`raise_after_fit`) or die by SIGKILL (`kill`) mid-training.
"""

import os
import signal
import sys

import numpy as np

import ferronet as fn

out_dir, case = sys.argv[1], sys.argv[2]
failure = sys.argv[3] if len(sys.argv) > 3 else None
optimizer = os.environ.get("TEST_OPTIMIZER", "sgd")

strategy = fn.distribute.DataParallel()
rank = fn.distribute.rank()
fn.utils.set_random_seed(1234 + 1000 * rank)  # differs per rank: rank 0's weights and seed must win

data = np.random.default_rng(7)
n = 101 if case == "dense" else 128
x = data.normal(size=(n, 8)).astype("float32") * 2 + 1
y = data.integers(0, 3, size=n)


class Failure(fn.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if rank == 1 and self.params and failure == "kill" and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_end(self, epoch, logs=None):
        if rank == 1 and failure == "raise" and epoch == 1:
            raise RuntimeError("boom on rank 1 at epoch 1")


with strategy.scope():
    if case == "dense":
        layers = [fn.Input((8,)), fn.layers.Dense(16, activation="relu"), fn.layers.Dense(3, activation="softmax")]
    else:
        layers = [fn.Input((8,)), fn.layers.BatchNormalization(), fn.layers.Dense(3, activation="softmax")]
    model = fn.Sequential(layers)
    opt = fn.optimizers.SGD(0.05, momentum=0.9) if optimizer == "sgd" else fn.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

callbacks = [fn.callbacks.CSVLogger(os.path.join(out_dir, f"log_rank{rank}.csv")),
             fn.callbacks.ModelCheckpoint(os.path.join(out_dir, f"ckpt_rank{rank}.ferronet")), Failure()]
kwargs = dict(validation_split=0.2) if case == "dense" else {}
history = model.fit(x, y, batch_size=31 if case == "dense" else 32, epochs=3, verbose=2, callbacks=callbacks, **kwargs)
if failure == "raise_after_fit" and rank == 1:
    raise ValueError("rank 1 failed after fit")
if case == "dense":  # a last batch of 1 sample: empty shards on all ranks but one
    model.fit(x[:5], y[:5], batch_size=4, epochs=1, verbose=0)
evaluation = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
# Each rank brings its own batch (halves of x; with 4 ranks each half twice): together, all of x.
mine = slice(None) if fn.distribute.world_size() == 1 else slice(rank % 2, None, 2)
step = model.train_on_batch(x[mine], y[mine], return_dict=True)
np.savez(os.path.join(out_dir, f"rank{rank}.npz"), *model.get_weights(),
         history=np.array([history.history[k] for k in sorted(history.history)]),
         evaluation=np.array([evaluation[k] for k in sorted(evaluation)]),
         step=np.array([step[k] for k in sorted(step)]), threads=fn._core.num_threads())
print(f"rank {rank} done")

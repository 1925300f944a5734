"""`DataParallel`: train one model on several processes, each on its shard of every batch."""

import contextlib
import os
import warnings

import numpy as np

from ferronet import _core
from ferronet.distribute import mpi

_scopes = []


def current_strategy():
    """The strategy whose `scope()` is open, or None."""
    return _scopes[-1] if _scopes else None


class DataParallel:
    """Data-parallel training on MPI (mpi4py): launch with `mpiexec -n N python train.py`.

    Every rank builds the same model; `fit` then gives each rank a contiguous shard of every
    global batch (`batch_size` is the global batch), sums the gradients across ranks with one
    in-place `Allreduce` per step, weighting each rank by its sample count so the step is the
    one a single process takes on the whole batch (an uneven last batch included), and every
    rank applies it, so the weights stay identical. At the start of `fit` the weights and the
    shuffle seed are broadcast from rank 0. Loss and metrics (per batch and per epoch) and
    validation are global figures on every rank; BatchNormalization moving statistics are
    averaged across ranks after every epoch. Callbacks that write (`CSVLogger`, the progress bar)
    run on rank 0 only. An exception escaping a rank aborts the whole job.

    Without mpi4py or without a launcher, it is a one-process strategy and `fit` runs as usual.

    Args:
        threads_per_rank: engine threads per process. Default: the cores this machine has
            (or this rank is bound to) divided by the ranks on this machine, unless
            FERRONET_NUM_THREADS is set. Takes effect only before the first kernel runs.

    Example:
    >>> import ferronet as fn
    >>> strategy = fn.distribute.DataParallel()
    >>> (strategy.rank, strategy.world_size)
    (0, 1)
    """

    def __init__(self, threads_per_rank=None):
        self._comm = mpi.communicator()
        self.rank, self.world_size = mpi.place()
        if self._comm is not None:
            from mpi4py import MPI

            self._mpi = MPI
            mpi.abort_on_uncaught_exception(self._comm)
            self.threads_per_rank = self._configure_threads(threads_per_rank)
        else:
            self.threads_per_rank = _core.set_num_threads(threads_per_rank) if threads_per_rank else _core.num_threads()

    def __repr__(self):
        return f"<DataParallel rank={self.rank} world_size={self.world_size} threads_per_rank={self.threads_per_rank}>"

    @contextlib.contextmanager
    def scope(self):
        """Models created or compiled inside train with this strategy."""
        _scopes.append(self)
        try:
            yield self
        finally:
            _scopes.remove(self)

    # ---- the engine's collective -------------------------------------------------------------
    def allreduce(self, buffer):
        """Sum a float32 NumPy array across ranks, in place (the engine calls this every step)."""
        self._comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)

    def _configure_threads(self, requested):
        if requested is None and (os.environ.get("FERRONET_NUM_THREADS") or os.environ.get("RAYON_NUM_THREADS")):
            return _core.num_threads()
        if requested is None:
            local_ranks = self._comm.Split_type(self._mpi.COMM_TYPE_SHARED).Get_size()
            # A launcher that binds each rank to a core leaves one core in the affinity mask.
            mine = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            requested = max(1, min(mine, (os.cpu_count() or 1) // local_ranks))
        got = _core.set_num_threads(requested)
        if got != requested:
            warnings.warn(f"ferronet.distribute: the engine already runs {got} threads per rank (kernels ran before "
                          f"DataParallel() was created); create the strategy first to get {requested}", stacklevel=3)
        return got

    # ---- what fit needs ----------------------------------------------------------------------
    def _attach(self, engine):
        _core.set_data_parallel(engine, self)

    def _detach(self, engine):
        _core.set_data_parallel(engine, None)

    def _broadcast_start(self, model, seed):
        """Rank 0's weights and seed on every rank; refuses models that differ between ranks."""
        weights = model.get_weights()
        shapes = [w.shape for w in weights]
        root_shapes = self._comm.bcast(shapes, root=0)
        if root_shapes != shapes:
            raise ValueError(f"ferronet.distribute: rank {self.rank}'s model has weight shapes {shapes}, "
                             f"rank 0's has {root_shapes}; every rank must build the same model")
        flat = np.concatenate([w.ravel() for w in weights]) if weights else np.zeros(0, np.float32)
        self._comm.Bcast(flat, root=0)
        offsets = np.cumsum([0] + [w.size for w in weights])
        model.set_weights([flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes)])
        model._synced_across_ranks = True
        return self._comm.bcast(seed, root=0)

    def _average_statistics(self, model):
        """Average BatchNormalization's moving statistics (each rank saw only its shards). Their
        update is linear, so averaging once per epoch equals averaging after every step."""
        from ferronet.layers.batch_normalization import BatchNormalization

        layers = [l for l in model.layers if isinstance(l, BatchNormalization) and l.trainable]
        tensors = [t for l in layers for t in l.non_trainable_weights]
        if not tensors:
            return
        values = [_core.to_numpy(t) for t in tensors]
        flat = np.concatenate([v.ravel() for v in values]).astype(np.float64)
        self._comm.Allreduce(self._mpi.IN_PLACE, flat, op=self._mpi.SUM)
        flat /= self.world_size
        offset = 0
        for tensor, v in zip(tensors, values):
            _core.assign(tensor, flat[offset:offset + v.size].reshape(v.shape).astype(np.float32))
            offset += v.size

    def _reduce_logs(self, logs, count):
        """Per-sample means from every rank (`count` samples here) as means over all samples."""
        keys = sorted(logs)
        buf = np.array([float(logs[k]) * count for k in keys] + [float(count)], np.float64)
        self._comm.Allreduce(self._mpi.IN_PLACE, buf, op=self._mpi.SUM)
        total = buf[-1]
        return {k: (buf[i] / total if total else 0.0) for i, k in enumerate(keys)}

    def _shard(self, n):
        """This rank's contiguous [start, end) of n samples (the engine's split of a batch)."""
        return n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size

    def _evaluate(self, engine, x, y, sample_weight, batch_size, callback=None, every_batch=False):
        """Evaluate this rank's shard of the data, then reduce to the figures over all of it."""
        start, end = self._shard(len(x))
        sw = None if sample_weight is None else sample_weight[start:end]
        logs = engine.evaluate(x[start:end], y[start:end], sw, batch_size, callback, every_batch)
        return self._reduce_logs(logs, end - start)

    def _any(self, flag):
        """Whether `flag` is true on any rank (stop together, or one rank would wait forever)."""
        return bool(self._comm.allreduce(bool(flag), op=self._mpi.LOR))

    @contextlib.contextmanager
    def _abort_on_error(self):
        """An exception here leaves the other ranks inside a collective: end the job instead."""
        try:
            yield
        except BaseException as e:  # noqa: B902 (KeyboardInterrupt too: the job must not hang)
            mpi.report_and_abort(self._comm, type(e), e, e.__traceback__)
            raise

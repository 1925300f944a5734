"""Data-parallel training across processes and machines on MPI (mpi4py).

    strategy = ferronet.distribute.DataParallel()
    with strategy.scope():
        model = ferronet.Sequential([...])
        model.compile(...)
    model.fit(x, y, batch_size=256)       # or model.fit(..., distribute=strategy)

Run it with `mpiexec -n 4 python train.py` (one machine) or `mpiexec --hostfile hosts -n 8
python train.py` (several). Without a launcher or without mpi4py the same script trains as one
process. `pip install 'ferronet[mpi]'` installs mpi4py.
"""

from ferronet.distribute import mpi
from ferronet.distribute.strategy import DataParallel, current_strategy

MPIStrategy = DataParallel

__all__ = ["DataParallel", "MPIStrategy", "current_strategy", "rank", "world_size"]


def rank():
    """This process's rank in the MPI job: 0 when not started by an MPI launcher.

    Example:
    >>> import ferronet as fn
    >>> fn.distribute.rank()
    0
    """
    return mpi.place()[0]


def world_size():
    """How many processes the MPI job has: 1 when not started by an MPI launcher.

    Example:
    >>> import ferronet as fn
    >>> fn.distribute.world_size()
    1
    """
    return mpi.place()[1]


def active(model, distribute=None):
    """The strategy `fit` should use for `model` (an explicit `distribute=` wins over the scope
    the model was made in), or None when training runs in one process."""
    strategy = distribute if distribute is not None else getattr(model, "distribute_strategy", None)
    if strategy is not None and not isinstance(strategy, DataParallel):
        raise TypeError(f"fit: expected distribute to be a ferronet.distribute.DataParallel, got {type(strategy).__name__}")
    return strategy if strategy is not None and strategy.world_size > 1 else None

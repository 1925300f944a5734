"""Where this process stands in an MPI job, and mpi4py's `COMM_WORLD`, found lazily.

MPI is initialised only when a process was started by a launcher (`mpiexec`/`mpirun`) with more
than one rank, so a plain `python train.py` never loads an MPI library, with or without mpi4py.
"""

import os
import sys
import traceback

# Rank and size as Open MPI (OMPI_*) and MPICH / Intel MPI (PMI_*) launchers export them.
_LAUNCHER_VARS = (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"))

_comm = None


def _launcher_place():
    for rank_var, size_var in _LAUNCHER_VARS:
        rank, size = os.environ.get(rank_var), os.environ.get(size_var)
        if rank is not None and size is not None:
            try:
                return int(rank), int(size)
            except ValueError:
                continue
    return 0, 1


def place():
    """(rank, world size) of this process: the communicator's once MPI is up, else the launcher's."""
    if _comm is not None:
        return _comm.Get_rank(), _comm.Get_size()
    return _launcher_place()


def communicator():
    """mpi4py's `COMM_WORLD` when the launcher started more than one rank, else None.

    Raises:
        ImportError: started with several ranks but mpi4py is not installed (each rank would
            otherwise train the whole model alone and write the same files).
    """
    global _comm
    if _comm is not None:
        return _comm
    rank, size = _launcher_place()
    if size <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            f"ferronet.distribute: this process is rank {rank} of {size} started by an MPI launcher, "
            "but mpi4py is not installed; install it with `pip install 'ferronet[mpi]'`") from e
    _comm = MPI.COMM_WORLD
    return _comm


def abort_on_uncaught_exception(comm):
    """Make an exception that escapes the script on one rank end the whole job.

    Without this the other ranks wait forever in the next collective. The hook prints the
    traceback (named by rank) and calls `MPI_Abort`, which makes the launcher stop every rank
    and exit non-zero. As `python -m mpi4py` does, without requiring it.
    """
    if getattr(sys.excepthook, "_ferronet_abort", False):
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, SystemExit) and value.code in (None, 0):
            return previous(kind, value, tb)
        report_and_abort(comm, kind, value, tb)

    hook._ferronet_abort = True
    sys.excepthook = hook


def report_and_abort(comm, kind, value, tb):
    """Print an exception as this rank's and abort every rank of `comm` (exit code 1)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(f"ferronet.distribute: rank {rank} of {size} failed; aborting all {size} ranks.\n{text}")
    sys.stderr.flush()
    sys.stdout.flush()
    comm.Abort(1)

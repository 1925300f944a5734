"""Atomic file writes: a crash, a kill or a full disk never leaves a half-written file in place
of a good one. Every file ferronet saves goes through `atomic_write`."""

import os
import tempfile


def atomic_write(path, data):
    """Write `data` (bytes) to `path` through a temporary file in the same folder.

    The temporary file is fsynced before it is renamed over `path` (without that, ext4/XFS may
    persist the rename before the data and leave a correctly named file of zeros), and the folder
    is fsynced after (without that, the rename itself may be lost on a crash). `os.replace` is
    atomic on POSIX and Windows, so a reader sees either the old file or the new one.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.bin"); atomic_write(path, b"ok")
    >>> open(path, "rb").read()
    b'ok'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} of {path!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Any failure, KeyboardInterrupt included: the target is untouched; remove our debris.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    if os.name != "posix":  # Windows cannot open a folder for fsync; its rename is journaled
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""A process killed (SIGKILL) in the middle of `save` leaves the previous file intact: saves go to
a temporary file that is renamed over the target only once complete and fsynced."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ferronet as fn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np, ferronet as fn
    path, mode = sys.argv[1], sys.argv[2]
    model = fn.Sequential([fn.Input((512,)), fn.layers.Dense(2048), fn.layers.Dense(512)])  # ~8 MB of weights
    if mode == "slow_fsync":
        real_fsync = os.fsync
        def slow_fsync(fd):
            print("in fsync", flush=True)
            time.sleep(30)  # the parent kills us here: data written, not yet renamed
            real_fsync(fd)
        os.fsync = slow_fsync
    version = 0
    while True:
        version += 1
        model.set_weights([np.full(w.shape, version, np.float32) for w in model.get_weights()])
        model.save(path)
        print("saved", version, flush=True)
""")


def _start(path, mode):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode], stdout=subprocess.PIPE, text=True)


def _saved_version(path):
    model = fn.models.load_model(path)
    values = {float(np.unique(w)[0]) for w in model.get_weights()}
    assert len(values) == 1, "a file mixing two saves"
    return int(values.pop())


def test_kill_during_fsync_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.ferronet"
    fn.Sequential([fn.Input((512,)), fn.layers.Dense(2048), fn.layers.Dense(512)]).save(path)
    before = path.read_bytes()
    child = _start(path, "slow_fsync")
    try:
        assert child.stdout.readline().strip() == "in fsync"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert path.read_bytes() == before
    fn.models.load_model(path)


def test_random_kills_during_repeated_saves_leave_a_loadable_file(tmp_path):
    path = tmp_path / "m.ferronet"
    rng = np.random.default_rng(0)
    last_seen = 0
    for _ in range(6):
        child = _start(path, "loop")
        try:
            assert child.stdout.readline().startswith("saved")  # one complete save, then kill at a random moment
            time.sleep(float(rng.uniform(0.0, 0.3)))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            child.kill()
        version = _saved_version(path)
        assert version >= 1
        last_seen = max(last_seen, version)
    assert last_seen >= 1


def test_a_failed_write_keeps_the_target_and_leaves_no_debris(tmp_path, monkeypatch):
    from ferronet.saving.atomic import atomic_write

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def disk_full(fd):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]

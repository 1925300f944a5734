"""Data-parallel training under a real `mpiexec` (Open MPI or MPICH): every rank ends with the
same weights as one process training on the same global batches; failures end the job.

The MPI tests skip when `mpiexec` or mpi4py is missing, unless FERRONET_REQUIRE_MPI=1 (CI sets
it), which turns the skip into a failure so they can never silently stop running.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_train.py")
TIMEOUT = 120  # seconds for a whole mpiexec job; a hang fails the test instead of CI


def _mpiexec():
    missing = [what for what, ok in (("mpiexec", shutil.which("mpiexec")), ("mpi4py", importlib.util.find_spec("mpi4py"))) if not ok]
    if missing:
        if os.environ.get("FERRONET_REQUIRE_MPI") == "1":
            pytest.fail(f"FERRONET_REQUIRE_MPI=1 but {' and '.join(missing)} not found")
        pytest.skip(f"{' and '.join(missing)} not installed")
    version = subprocess.run(["mpiexec", "--version"], capture_output=True, text=True).stdout
    # Open MPI refuses more ranks than cores without --oversubscribe; MPICH has no such flag.
    return ["mpiexec", "--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else ["mpiexec"]


def _env():
    env = dict(os.environ, FERRONET_NUM_THREADS="1")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")  # CI runs as root
    return env


def _run(ranks, out_dir, case, *extra, optimizer="sgd"):
    """Run the script under mpiexec (ranks > 0) or as a plain process (ranks == 0)."""
    command = [sys.executable, SCRIPT, str(out_dir), case, *extra]
    if ranks:
        command = _mpiexec() + ["-n", str(ranks)] + command
    env = dict(_env(), TEST_OPTIMIZER=optimizer)
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _check_ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("ranks", [2, 4])
def test_data_parallel_matches_one_process(ranks, optimizer, tmp_path):
    _check_ok(_run(0, tmp_path, "dense", optimizer=optimizer))
    reference = _load(tmp_path / "rank0.npz")
    os.remove(tmp_path / "rank0.npz")
    result = _run(ranks, tmp_path, "dense", optimizer=optimizer)
    _check_ok(result)
    runs = [_load(tmp_path / f"rank{r}.npz") for r in range(ranks)]
    for r, run in enumerate(runs):
        assert int(run["threads"]) == 1
        for key, value in run.items():
            np.testing.assert_array_equal(value, runs[0][key], err_msg=f"rank {r} differs from rank 0 in {key}")
    for key in [k for k in reference if k.startswith("arr_")]:
        np.testing.assert_allclose(runs[0][key], reference[key], rtol=0, atol=1e-6, err_msg=f"weight {key}")
    # Global loss, accuracy and validation figures, per epoch, then evaluate and train_on_batch.
    for key in ("history", "evaluation", "step"):
        np.testing.assert_allclose(runs[0][key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # Only rank 0 writes the log and prints the progress.
    assert sorted(os.listdir(tmp_path)) == ["ckpt_rank0.ferronet", "log_rank0.csv"] + [f"rank{r}.npz" for r in range(ranks)]
    assert result.stdout.count("Epoch 1/3") == 1 and result.stdout.count("Epoch 3/3") == 1
    assert all(f"rank {r} done" in result.stdout for r in range(ranks))


@pytest.mark.parametrize("ranks", [2, 4])
def test_data_parallel_batchnorm_statistics_are_global(ranks, tmp_path):
    _check_ok(_run(0, tmp_path, "batchnorm"))
    reference = _load(tmp_path / "rank0.npz")
    os.remove(tmp_path / "rank0.npz")
    _check_ok(_run(ranks, tmp_path, "batchnorm"))
    runs = [_load(tmp_path / f"rank{r}.npz") for r in range(ranks)]
    for r, run in enumerate(runs):
        for key, value in run.items():
            np.testing.assert_array_equal(value, runs[0][key], err_msg=f"rank {r} differs from rank 0 in {key}")
    # Weights in Keras order: gamma, beta, moving_mean, moving_variance, kernel, bias. The moving
    # mean of a first-layer BatchNormalization depends on the data only: it must be the global one.
    np.testing.assert_allclose(runs[0]["arr_2"], reference["arr_2"], rtol=0, atol=1e-6)


def test_exception_on_one_rank_ends_the_job(tmp_path):
    result = _run(2, tmp_path, "dense", "raise")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "boom on rank 1 at epoch 1" in output
    assert "rank 1 of 2 failed; aborting all 2 ranks" in output
    assert not (tmp_path / "rank0.npz").exists()


def test_uncaught_exception_outside_fit_ends_the_job(tmp_path):
    # Rank 0 goes on to evaluate (a collective) and would wait forever for rank 1.
    result = _run(2, tmp_path, "dense", "raise_after_fit")
    assert result.returncode != 0
    assert "rank 1 failed after fit" in result.stdout + result.stderr


def test_dead_rank_ends_the_job(tmp_path):
    result = _run(2, tmp_path, "dense", "kill")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    # The launcher's report (Open MPI: "... process rank 1 ... exited on signal 9 (Killed)").
    assert "rank 1" in output and ("signal 9" in output or "Killed" in output), output

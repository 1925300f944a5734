"""Shared helpers for the side-by-side benchmarks in benches/ (not a benchmark itself).

Run a benchmark, not this file:

    pip install -e '.[bench]'            # ferronet + the peers (torch, keras, psutil)
    pip install threadpoolctl            # optional: BLAS thread control and kernel report
    python benches/w1_gemm.py            # f32 GEMM, ferronet vs NumPy/OpenBLAS
    python benches/w2_mlp.py             # MLP training, ferronet vs PyTorch eager vs Keras 3
    python benches/w5_tiny_mlp.py        # tiny-MLP training steps/s, same peers

`python benches/harness.py` prints the header line only (a quick check of what a run would report).

What lives here (STYLE.md item 14):

- `timeit(fn, warmup=3, repeat=20)`: median wall seconds of `fn()`. CPU only, so there is nothing
  to sync; the result of each call is kept alive until after the clock stops, so freeing it is not
  timed, for ferronet and the peer alike.
- `header_line()` / `print_header()`: one line with versions, threads, CPU model and clock, load.
- `format_row()` / `print_row()`: one line per case,
  `workload | case | ferronet X | peer Y | ratio Z x | G GFLOP/s (F% of peak)`.
  The ratio is ferronet's throughput over the peer's (peer time / ferronet time), so above 1 means
  ferronet is faster, as in the STYLE.md example (`ferronet 1.84 ms | torch 2.10 ms | 1.14x`).
- Thread control. ferronet's rayon pool reads `RAYON_NUM_THREADS` once, when it is first used, so
  every thread count runs in its own subprocess: `thread_env(n)` builds that subprocess's
  environment and `run_child(...)` starts it. Inside the child, `set_numpy_threads(n)`
  (threadpoolctl when installed, on top of `OPENBLAS_NUM_THREADS`) and `set_torch_threads(n)` pin
  the peers.
- `thread_env` also drops `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` from the child's environment
  (only there; the parent's is left alone) so that NumPy's OpenBLAS picks its kernel and blocking
  from the real CPU. `blas_info()` reports what it picked.

Peak. `PEAK_GFLOPS_PER_CORE = FLOPS_PER_CYCLE * clock`, with FLOPS_PER_CYCLE = 32 (AMD Zen 4 f32:
two 256-bit FMA pipes x 8 lanes x 2 FLOPs; AVX-512 is double-pumped and adds no FLOPs) and the clock
taken from the first "cpu MHz" of /proc/cpuinfo (2596 MHz on the 2-core EPYC dev machine, hence
~83 GFLOP/s per core; reference/performance.md A2). Assumptions, stated because they matter:
(1) the CPU is Zen 4, or another core with 32 f32 FLOP/cycle (most AVX2+FMA cores; an Intel core
with two AVX-512 FMA units has 64); (2) "cpu MHz" is the sustained clock. In a VM it is usually the
nominal base clock and the core boosts above it, so "% of peak" can pass 100 %: the measured
single-thread OpenBLAS figure (A1: ~100 GFLOP/s per core on that machine) implies >= 3.1 GHz.
Override both with FERRONET_BENCH_PEAK_GFLOPS_PER_CORE (e.g. set it to the single-thread NumPy
figure that w1_gemm.py prints, to read "% of peak" as "% of OpenBLAS").
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time

# ---------------------------------------------------------------------------------------------
# Machine description and peak
# ---------------------------------------------------------------------------------------------

FLOPS_PER_CYCLE = 32  # Zen 4, f32: 2 FMA pipes x 8 lanes x 2 FLOPs (see the module docstring).
FALLBACK_MHZ = 2596.0  # lscpu of the 2-core EPYC Zen 4 dev machine (reference/performance.md A1).

# Environment variables that pin OpenBLAS to a kernel or a cache size; dropped in the children.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _cpuinfo_field(name: str) -> str | None:
    """First value of `name` in /proc/cpuinfo, or None where there is no such file or field."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_mhz() -> float:
    """Clock in MHz from /proc/cpuinfo "cpu MHz" (FALLBACK_MHZ when it cannot be read)."""
    try:
        return float(_cpuinfo_field("cpu MHz") or FALLBACK_MHZ)
    except ValueError:
        return FALLBACK_MHZ


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _peak_per_core() -> float:
    override = os.environ.get("FERRONET_BENCH_PEAK_GFLOPS_PER_CORE")
    if override:
        return float(override)
    return FLOPS_PER_CYCLE * cpu_mhz() / 1000.0


PEAK_GFLOPS_PER_CORE = _peak_per_core()


def peak_gflops(threads: int) -> float:
    """Nominal f32 peak of `threads` cores in GFLOP/s (see the module docstring for the caveats)."""
    return PEAK_GFLOPS_PER_CORE * threads


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def timeit(fn, warmup: int = 3, repeat: int = 20) -> float:
    """Median wall-clock seconds of `fn()` over `repeat` runs, after `warmup` untimed runs.

    CPU work only: nothing to synchronise. The value `fn` returns is released after the clock
    stops, and the garbage collector is off while timing.
    """
    for _ in range(warmup):
        fn()
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = fn()
            t1 = time.perf_counter()
            del result
            times.append(t1 - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(times)


def fmt_time(seconds: float) -> str:
    """`1.84 ms`-style time with a unit that keeps 3 significant digits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= 0.9995 * scale or unit == "us":
            return f"{seconds / scale:#.3g}".rstrip(".") + f" {unit}"
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Versions and header
# ---------------------------------------------------------------------------------------------


def package_version(name: str) -> str | None:
    """Installed version of `name` without importing it (torch takes seconds to import)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:  # e.g. an in-tree build that pip does not know about
        return getattr(importlib.import_module(name), "__version__", "?")
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


def header_line(title: str, threads=None, extra: dict | None = None) -> str:
    """One header line: versions, threads, CPU, clock, peak, load (STYLE.md item 14)."""
    parts = [f"# {title}"]
    for name in ("ferronet", "numpy", "torch", "keras"):
        version = package_version(name)
        parts.append(f"{name} {version}" if version else f"{name} -")
    parts.append(f"python {platform.python_version()}")
    if threads is not None:
        parts.append("threads " + ",".join(str(t) for t in threads))
    parts.append(f"{cpu_count()} cores: {cpu_model()} @ {cpu_mhz():.0f} MHz")
    parts.append(f"peak {PEAK_GFLOPS_PER_CORE:.0f} GFLOP/s/core")
    try:
        parts.append("load " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    except OSError:
        pass
    for key, value in (extra or {}).items():
        parts.append(f"{key} {value}")
    return " | ".join(parts)


def print_header(title: str, threads=None, extra: dict | None = None) -> None:
    print(header_line(title, threads, extra), flush=True)


def format_row(workload: str, case: str, ours: float | None, peer: float | None,
               peer_name: str = "peer", flops: float | None = None, threads: int = 1,
               unit: str = "time", peer_gflops: bool = False) -> str:
    """One line: `workload | case | ferronet X | peer Y | ratio Z x | G GFLOP/s (F% of peak)`.

    `ours` and `peer` are median seconds per call (`unit="time"`) or throughputs such as
    samples/s (`unit` is then the unit's name, e.g. "samples/s", and higher is better). None means
    "not available" and prints `n/a`. `flops` is the FLOPs per call (time mode) or per unit
    (throughput mode); with it, ferronet's GFLOP/s and its share of the `threads`-core peak are
    appended, and with `peer_gflops=True` also `| peer G GFLOP/s`.
    """
    def show(value):
        if value is None:
            return "n/a"
        return fmt_time(value) if unit == "time" else f"{value:,.0f} {unit}"

    def gflops_of(value):
        return flops / value / 1e9 if unit == "time" else value * flops / 1e9

    cols = [workload, case, f"ferronet {show(ours)}", f"{peer_name} {show(peer)}"]
    if ours and peer:
        ratio = peer / ours if unit == "time" else ours / peer
        cols.append(f"ratio {ratio:.2f} x")
    else:
        cols.append("ratio n/a")
    if flops is not None:
        if ours:
            g = gflops_of(ours)
            cols.append(f"{g:.1f} GFLOP/s ({100 * g / peak_gflops(threads):.0f}% of peak)")
        else:
            cols.append("n/a GFLOP/s")
        if peer_gflops and peer:
            cols.append(f"{peer_name} {gflops_of(peer):.1f} GFLOP/s")
    return " | ".join(cols)


def print_row(*args, **kwargs) -> None:
    print(format_row(*args, **kwargs), flush=True)


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------


def thread_env(threads: int, base: dict | None = None) -> tuple[dict, list[str]]:
    """Environment for a benchmark child that runs on `threads` threads.

    Sets RAYON_NUM_THREADS (ferronet), OPENBLAS/OMP/MKL_NUM_THREADS (NumPy, torch) and removes
    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE. Returns the environment and the names removed.
    """
    env = dict(os.environ if base is None else base)
    removed = [name for name in OPENBLAS_OVERRIDES if env.pop(name, None) is not None]
    for name in ("RAYON_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                 "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env, removed


def run_child(script: str, args: list[str], threads: int, extra_env: dict | None = None) -> int:
    """Run `python script args...` with `thread_env(threads)`; its output goes straight to ours.

    Returns the child's exit status. Uses this interpreter (sys.executable), so the benchmarks
    run under whichever environment started them.
    """
    env, _ = thread_env(threads)
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, script, *args], env=env, check=False)
    return proc.returncode


def run_side(script: str, framework: str, threads: int, args: list[str]) -> dict | None:
    """Run one framework's side of a benchmark in a child (`python script --child threads
    --framework F args...` on `thread_env(threads)`) and return the dict it printed on its
    `RESULT {json}` line; None, with the child's error, when it printed none."""
    import json

    env, _ = thread_env(threads)
    if framework == "ferronet":
        env["OPENBLAS_NUM_THREADS"] = "1"  # ferronet does not use NumPy's BLAS; keep its threads from spinning
    cmd = [sys.executable, script, "--child", str(threads), "--framework", framework, *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"# {framework} on {threads} threads failed: {out.stderr.strip()[-500:]}", flush=True)
    return None


def set_numpy_threads(threads: int):
    """Limit NumPy's BLAS to `threads` (threadpoolctl, if installed; the env var covers the rest).

    Returns the threadpoolctl limiter (keep it alive) or None.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def set_torch_threads(threads: int) -> None:
    """torch.set_num_threads(threads), and one inter-op thread (no-op if torch already ran)."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before the first parallel work
        pass


def blas_info() -> str:
    """What NumPy's BLAS is: library, version, kernel (architecture), threads.

    Needs NumPy imported; uses threadpoolctl when installed, NumPy's build config otherwise.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        rows = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if rows:
            return "; ".join(
                f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
                f"{i.get('num_threads')} threads ({i.get('threading_layer')}, "
                f"{os.path.basename(i.get('filepath', ''))})"
                for i in rows
            )
    try:
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return (f"{blas.get('name')} {blas.get('version')} "
                f"[{blas.get('openblas configuration', '')}] (no threadpoolctl: kernel unknown)")
    except Exception:  # noqa: BLE001 - old NumPy without mode="dicts"
        return "unknown BLAS (install threadpoolctl to see it)"


if __name__ == "__main__":
    print_header("harness self-check", threads=[1, cpu_count()])
    # The STYLE.md example: dense fwd+bwd, 256x784->128 (3 GEMMs of 2*256*784*128 FLOPs).
    print(format_row("dense fwd+bwd", "256x784->128 | f32 | cpu", 1.84e-3, 2.10e-3, "torch",
                     flops=3 * 2 * 256 * 784 * 128, threads=1))

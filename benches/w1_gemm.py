"""W1: f32 GEMM throughput, ferronet (`fn.ops.matmul`) vs NumPy `a @ b` (OpenBLAS).

How to run (from the repository root, with any interpreter that has ferronet and NumPy):

    pip install -e '.[bench]'            # once
    pip install threadpoolctl            # optional: BLAS thread limits and the kernel report
    python benches/w1_gemm.py            # n = 256, 1024, 2048 on 1 and 2 threads, + a.T @ b at 1024
    python benches/w1_gemm.py --quick    # 1 warm-up, 5 repeats: a smoke test, not a measurement
    python benches/w1_gemm.py --threads 1,2,4 --sizes 512,4096 --repeat 30

Measure a release build of ferronet: `pip install -e .` builds one (maturin's PEP 517 backend
defaults to release), while `maturin develop` without `--release` builds the dev profile
(opt-level 2, debug assertions), which is what the dev venv may hold.

Each thread count runs in its own subprocess, because ferronet's rayon pool reads
RAYON_NUM_THREADS only once; the child also gets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS and, when
threadpoolctl is installed, a threadpool limit. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, if set,
are removed from the children's environment (only there) so OpenBLAS tunes itself to the real CPU;
each child prints the OpenBLAS kernel it runs.

What is timed: `fn.ops.matmul(a, b)` on float32 C-contiguous NumPy arrays (shared with the Tensor,
not copied), returning a Tensor; reading the result back with `.numpy()` is outside the timer (it
is done once per case, after timing, to check the result against NumPy). The peer is `a @ b`.
For the transposed case, ferronet gets the `Tensor.T` view of `fn.tensor(a)` (made outside the
timer) and NumPy `a.T @ b`. Inputs are deterministic (numpy.random.default_rng(0)). Median of 20
after 3 warm-ups (harness.timeit).

Output: one header line, then per thread count one `# threads=N` line (OpenBLAS kernel and
threads) and one line per case:
`workload | case | ferronet X | numpy Y | ratio Z x | G GFLOP/s (F% of peak)`, where
ratio = ferronet GFLOP/s / NumPy GFLOP/s (> 1: ferronet faster), GFLOP/s and % of peak are
ferronet's (2 n^3 FLOPs; peak = threads x harness.PEAK_GFLOPS_PER_CORE, see harness.py); the
last column is NumPy's GFLOP/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

SMALL, MEDIUM, LARGE = 256, 1024, 2048
SIZES = (SMALL, MEDIUM, LARGE)
TRANSPOSED_SIZE = MEDIUM
THREADS = (1, 2)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=_ints, default=list(THREADS), help="e.g. 1,2")
    p.add_argument("--sizes", type=_ints, default=list(SIZES), help="square n, e.g. 256,1024")
    p.add_argument("--transposed-size", type=int, default=TRANSPOSED_SIZE,
                   help="n of the a.T @ b case (0 to skip)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="warmup 1, repeat 5 (smoke test)")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.repeat = 1, 5
    return args


def _check(ours, ref, what: str) -> str:
    """'' when ferronet's result matches NumPy's to f32 GEMM accuracy, a warning otherwise."""
    import numpy as np

    err = float(np.max(np.abs(ours - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
    return "" if err < 1e-4 else f"  # WARNING {what}: max rel error {err:.2e} vs numpy"


def quiet() -> None:
    """Let the other library's idle threads stop spinning before a timing starts.

    OpenBLAS's threads busy-wait for a while after each call (and ferronet's GEMM workers for
    0.2 ms); on 2 cores a spinning neighbour halves the next two-thread timing, which says
    nothing about either library. Real workloads do not alternate the two libraries call by call.
    """
    time.sleep(0.5)


def child(args) -> None:
    """Time every case on `args.child` threads (the environment was set by the parent)."""
    threads = args.child
    import numpy as np

    limiter = harness.set_numpy_threads(threads)  # noqa: F841 - keep the limit in force
    import ferronet as fn

    print(f"# threads={threads} | RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')} | "
          f"numpy BLAS: {harness.blas_info()} | load {os.getloadavg()[0]:.2f}", flush=True)

    rng = np.random.default_rng(0)
    cases = [("sgemm a @ b", n, False) for n in args.sizes]
    if args.transposed_size:
        cases.append(("sgemm a.T @ b", args.transposed_size, True))
    for workload, n, transposed in cases:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        if transposed:
            ta = fn.tensor(a)  # shares a's buffer; .T is a view, made inside the timed call
            quiet()
            t_ours = harness.timeit(lambda: fn.ops.matmul(ta.T, b), args.warmup, args.repeat)
            quiet()
            t_peer = harness.timeit(lambda: a.T @ b, args.warmup, args.repeat)
            note = _check(fn.ops.matmul(ta.T, b).numpy(), a.T @ b, workload)
        else:
            quiet()
            t_ours = harness.timeit(lambda: fn.ops.matmul(a, b), args.warmup, args.repeat)
            quiet()
            t_peer = harness.timeit(lambda: a @ b, args.warmup, args.repeat)
            note = _check(fn.ops.matmul(a, b).numpy(), a @ b, workload)
        flops = 2.0 * n * n * n
        case = f"{n}x{n}x{n} | f32 | cpu | {threads} thr"
        row = harness.format_row(workload, case, t_ours, t_peer, "numpy", flops=flops,
                                 threads=threads, peer_gflops=True)
        print(row + note, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(args)
        return 0
    _, removed = harness.thread_env(1)
    harness.print_header(
        "W1 f32 GEMM: ferronet fn.ops.matmul vs numpy a @ b", threads=args.threads,
        extra={"median of": f"{args.repeat} after {args.warmup} warm-up",
               "unset in children": ",".join(removed) or "none"})
    passthrough = ["--sizes", ",".join(map(str, args.sizes)),
                   "--transposed-size", str(args.transposed_size),
                   "--warmup", str(args.warmup), "--repeat", str(args.repeat)]
    status = 0
    for threads in args.threads:
        rc = harness.run_child(os.path.abspath(__file__), [*passthrough, "--child", str(threads)],
                               threads)
        if rc != 0:
            print(f"# threads={threads}: child exited with status {rc}", flush=True)
            status = rc
    return status


if __name__ == "__main__":
    sys.exit(main())

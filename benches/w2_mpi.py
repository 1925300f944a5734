"""W2 across MPI ranks: data-parallel training throughput of the MLP 784-512-256-10 (Adam).

How to run (from the repository root; needs an MPI runtime and mpi4py: `pip install -e '.[mpi]'`):

    python benches/w2_mpi.py            # 1 rank, then 2 ranks; 1 engine thread per rank
    python benches/w2_mpi.py --quick    # 1 warm-up + 3 timed fit calls per case
    python benches/w2_mpi.py --ranks 4 --mpiexec-args=--oversubscribe

As root, Open MPI also needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.

Cases (W2's data: 4,096 random samples, 2 epochs per timed `fit`; 3 warm-ups, median of 20):
- `1 rank`: one process, no MPI (what `mpiexec -n 1` gives too: a one-process strategy).
- `N ranks, global batch 128`: strong scaling, each rank 128/N samples per step.
- `N ranks, 128 per rank`: weak scaling, global batch 128 N.
Per case: samples/s (global), scaling efficiency against N x the 1-rank figure at the same
per-rank batch, and the time per step inside `Allreduce` (mean over ranks; it includes waiting
for the slowest rank). Then the pure `Allreduce` of the step buffer (gradients + 2 + 2 per
metric floats) timed alone, and the expected efficiency of the weak-scaling case over N machines
on 10/25/100 Gbit/s links from a ring allreduce's cost 2 (N-1)/N x bytes / bandwidth +
2 (N-1) x latency.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

RESULT = "@result "
SAMPLES, EPOCHS, UNITS = 4096, 2, (784, 512, 256, 10)
LINK_LATENCY_S = 25e-6  # one message over TCP on Ethernet, order of magnitude


def worker(batch, warmups, repeats):
    """One rank's side: train W2 `warmups + repeats` times, report from rank 0."""
    import ferronet as fn

    timings = {"seconds": 0.0, "calls": 0}

    class TimedDataParallel(fn.distribute.DataParallel):
        def allreduce(self, buffer):
            start = time.perf_counter()
            super().allreduce(buffer)
            timings["seconds"] += time.perf_counter() - start
            timings["calls"] += 1
            timings["floats"] = buffer.size

    strategy = TimedDataParallel()
    data = np.random.default_rng(0)
    x = data.normal(size=(SAMPLES, UNITS[0])).astype("float32")
    y = data.integers(0, UNITS[-1], size=SAMPLES)
    with strategy.scope():
        model = fn.Sequential([fn.Input((UNITS[0],))] + [fn.layers.Dense(u, activation="relu") for u in UNITS[1:-1]]
                              + [fn.layers.Dense(UNITS[-1], activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    times, in_allreduce = [], []
    steps = math.ceil(SAMPLES / batch) * EPOCHS
    for i in range(warmups + repeats):
        timings.update(seconds=0.0, calls=0)
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=EPOCHS, verbose=0)
        times.append(time.perf_counter() - start)
        in_allreduce.append(timings["seconds"])
    result = {"seconds": statistics.median(times[warmups:]), "threads": fn._core.num_threads(),
              "world": strategy.world_size, "steps": steps}
    if strategy.world_size > 1:
        per_step = np.array([statistics.median(in_allreduce[warmups:]) / steps])
        strategy._comm.Allreduce(strategy._mpi.IN_PLACE, per_step)
        buffer = np.zeros(timings["floats"], np.float32)
        strategy._comm.Barrier()
        start = time.perf_counter()
        for _ in range(200):
            strategy.allreduce(buffer)
        pure = np.array([(time.perf_counter() - start) / 200])
        strategy._comm.Allreduce(strategy._mpi.IN_PLACE, pure)
        result.update(allreduce_in_step=per_step[0] / strategy.world_size, allreduce_alone=pure[0] / strategy.world_size,
                      floats=int(timings["floats"]))
    if strategy.rank == 0:
        print(RESULT + json.dumps(result), flush=True)


def run_case(ranks, batch, args):
    env = dict(os.environ, FERRONET_NUM_THREADS="1")
    command = [sys.executable, os.path.abspath(__file__), "--worker", str(batch), str(args.warmups), str(args.repeats)]
    if ranks > 1:
        command = ["mpiexec", *args.mpiexec_args.split(), "-n", str(ranks), *command]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    lines = [l for l in out.stdout.splitlines() if l.startswith(RESULT)]
    if out.returncode != 0 or not lines:
        sys.exit(f"case {ranks} ranks, batch {batch} failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    result = json.loads(lines[0][len(RESULT):])
    result["samples_per_s"] = SAMPLES * EPOCHS / result["seconds"]
    return result


def paper_estimate(step_seconds, floats):
    """Weak-scaling efficiency over N machines when each step's allreduce is not overlapped."""
    size = floats * 4
    print(f"# on paper: step buffer {floats:,} floats = {size / 1e6:.2f} MB; compute per step {step_seconds * 1e3:.2f} ms "
          f"(measured, 1 rank, batch 128); ring allreduce 2(N-1)/N x bytes / bandwidth + 2(N-1) x {LINK_LATENCY_S * 1e6:.0f} us")
    for gbit in (10, 25, 100):
        cells = []
        for n in (2, 4, 8, 16, 64):
            comm = 2 * (n - 1) / n * size / (gbit * 1e9 / 8) + 2 * (n - 1) * LINK_LATENCY_S
            cells.append(f"N={n}: {comm * 1e3:.2f} ms, {step_seconds / (step_seconds + comm):.0%}")
        print(f"# {gbit:>3} Gbit/s | " + " | ".join(cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mpiexec-args", default="", help="extra mpiexec arguments, e.g. --oversubscribe")
    parser.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    args.warmups, args.repeats = (1, 3) if args.quick else (3, 20)
    import ferronet

    print(f"# ferronet {ferronet.__version__} | W2 784-512-256-10 Adam | {SAMPLES} samples x {EPOCHS} epochs per fit | "
          f"1 engine thread per rank | median of {args.repeats} | cpus {os.cpu_count()} | load {os.getloadavg()[0]:.2f}")
    n = args.ranks
    one = run_case(1, 128, args)
    print(f"W2 mpi | 1 rank, batch 128 | {one['samples_per_s']:,.0f} samples/s | step {one['seconds'] / one['steps'] * 1e3:.2f} ms")
    for label, batch in ((f"global batch 128 ({128 // n} per rank)", 128), (f"128 per rank (global {128 * n})", 128 * n)):
        r = run_case(n, batch, args)
        efficiency = r["samples_per_s"] / (n * one["samples_per_s"])
        print(f"W2 mpi | {n} ranks, {label} | {r['samples_per_s']:,.0f} samples/s | efficiency {efficiency:.0%} | "
              f"allreduce {r['allreduce_in_step'] * 1e3:.3f} ms/step in training, {r['allreduce_alone'] * 1e3:.3f} ms alone "
              f"({r['floats']:,} floats) | step {r['seconds'] / r['steps'] * 1e3:.2f} ms")
    paper_estimate(one["seconds"] / one["steps"], r["floats"])


if __name__ == "__main__":
    sys.exit(main())

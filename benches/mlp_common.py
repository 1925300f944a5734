"""Shared driver of the MLP training benchmarks W2 (w2_mlp.py) and W5 (w5_tiny_mlp.py).

Not run directly; see those files:

    pip install -e '.[bench]'                 # ferronet + torch + keras 3 + psutil
    python benches/w2_mlp.py [--quick]
    python benches/w5_tiny_mlp.py [--quick]

Three sides, each in its own subprocess per thread count (ferronet's rayon pool reads
RAYON_NUM_THREADS once; torch and keras get torch.set_num_threads):

- ferronet: `import ferronet as keras`, then the very same code as the Keras side
  (`build_and_compile`, `keras_fit`). Prints `ferronet n/a` with the reason until
  `ferronet.Sequential` and `fit` exist.
- torch: PyTorch eager, the standard loop: per epoch a `torch.randperm` shuffle, then per batch
  `zero_grad(set_to_none=True)`, forward to logits, `nn.CrossEntropyLoss` (softmax + sparse
  categorical cross-entropy, fused), `backward`, `Adam.step` (torch's default, non-foreach on CPU).
  Batches are sliced from tensors, not drawn through a DataLoader (which would add per-sample
  collation cost that is not the framework's).
- keras: Keras 3 with the torch backend (KERAS_BACKEND=torch, KERAS_TORCH_DEVICE=cpu, set in the
  child only), `model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")`,
  `model.fit(..., verbose=0)`. On the torch backend `jit_compile="auto"` means eager.

Each timed call trains `epochs` epochs (`fit(epochs=epochs)`, or the torch loop for `epochs`
epochs) on the same model; 3 warm-up calls, median of 20 (harness.timeit). Data: W5 uses
the bundled digits (1,797 images / 16); W2 random float32 normal inputs and uniform integer labels
from numpy.random.default_rng(0). The loss
reported after the run (Keras: the last epoch's mean; torch: the last batch's) is a sanity check
only: with random labels (W2) it starts near ln 10 = 2.30 and drops as the model memorises them.

Noise: torch's OpenMP pool degrades badly when another process shares the cores (on the 2-core dev
machine, W2 torch on 2 threads went from ~28k to ~5k samples/s during a compile), so run on an idle
machine; each side's line ends with the 1-minute load average after it ran.

FLOPs per sample: 3 x the forward GEMMs (2 * sum(in*out)), the usual fwd+bwd estimate; it leaves
out activations, softmax and the optimizer, so the GFLOP/s column is a lower bound on useful work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

FRAMEWORKS = ("ferronet", "torch", "keras")
RESULT_TAG = "@result "


@dataclass
class Workload:
    """One MLP training benchmark."""

    name: str  # e.g. "W2 mlp train"
    units: tuple  # layer widths, input first: (784, 512, 256, 10)
    batch: int
    samples: int
    epochs: int  # per timed call
    metric: str  # "samples/s" or "steps/s"

    def flops_per_sample(self) -> float:
        fwd = sum(2 * a * b for a, b in zip(self.units[:-1], self.units[1:]))
        return 3.0 * fwd

    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples / self.batch)

    def case(self) -> str:
        arch = "-".join(map(str, self.units))
        return (f"{arch} relu/softmax | b{self.batch} adam | {self.samples}x{self.epochs}ep "
                f"| f32 | cpu")


# ---------------------------------------------------------------------------------------------
# Data and the Keras-shaped model (shared, verbatim, by keras and ferronet)
# ---------------------------------------------------------------------------------------------


def make_data(w: Workload):
    """W5 trains on the bundled digits (all 1,797 images, pixels / 16); W2 on seeded random data."""
    import numpy as np

    if w.units[0] == 64 and w.samples == 1797:
        from ferronet.datasets import digits  # only the data file; every side trains on the same arrays

        (x_train, y_train), (x_test, y_test) = digits.load_data()
        x = np.concatenate([x_train, x_test]).reshape(-1, 64).astype(np.float32) / 16.0
        return x, np.concatenate([y_train, y_test]).astype(np.int32)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((w.samples, w.units[0]), dtype=np.float32)
    y = rng.integers(0, w.units[-1], size=w.samples).astype(np.int32)
    return x, y


def build_and_compile(keras, w: Workload):
    """The Keras code, run as-is with `keras` bound to keras or to ferronet."""
    layers = [keras.Input(shape=(w.units[0],))]
    for width in w.units[1:-1]:
        layers.append(keras.layers.Dense(width, activation="relu"))
    layers.append(keras.layers.Dense(w.units[-1], activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def keras_fit(model, x, y, w: Workload):
    """One timed call: `epochs` epochs of model.fit; returns the last epoch's loss."""
    history = model.fit(x, y, batch_size=w.batch, epochs=w.epochs, verbose=0)
    return getattr(history, "history", {}).get("loss", [float("nan")])[-1]


# ---------------------------------------------------------------------------------------------
# The three sides (each runs in a child process)
# ---------------------------------------------------------------------------------------------


def side_keras_api(module_name: str, w: Workload, args, threads: int) -> dict:
    """keras or ferronet (`import ferronet as keras`), with the same code."""
    if module_name == "keras":
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        harness.set_torch_threads(threads)
        keras.utils.set_random_seed(0)
        import torch

        info = (f"keras {keras.__version__} ({keras.backend.backend()} backend, "
                f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        import ferronet as keras

        if not hasattr(keras, "Sequential"):
            return {"error": "ferronet.Sequential is missing"}
        seed = getattr(getattr(keras, "utils", None), "set_random_seed", None)
        if seed is not None:
            seed(0)
        info = (f"ferronet {keras.__version__} "
                f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}")
    x, y = make_data(w)
    model = build_and_compile(keras, w)
    if module_name == "keras":
        info += f", jit_compile {model.jit_compile})"
    seconds = harness.timeit(lambda: keras_fit(model, x, y, w), args.warmup, args.repeat)
    loss = float(keras_fit(model, x, y, w))
    return {"seconds": seconds, "loss": loss, "info": info}


def side_torch(w: Workload, args, threads: int) -> dict:
    """PyTorch eager, the standard training loop."""
    import torch
    from torch import nn

    harness.set_torch_threads(threads)
    torch.manual_seed(0)
    x_np, y_np = make_data(w)
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np.astype("int64"))

    layers = []
    for a, b in zip(w.units[:-2], w.units[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(w.units[-2], w.units[-1]))  # logits; softmax is inside the loss
    model = nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]

    def train():
        model.train()
        for _ in range(w.epochs):
            perm = torch.randperm(n)
            for start in range(0, n, w.batch):
                idx = perm[start:start + w.batch]
                xb, yb = x[idx], y[idx]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
        return loss.detach()  # the last batch's loss; nothing else is tracked (the leanest loop)

    seconds = harness.timeit(train, args.warmup, args.repeat)
    loss = float(train())
    info = f"torch {torch.__version__} {torch.get_num_threads()} threads"
    return {"seconds": seconds, "loss": loss, "info": info}


def child(w: Workload, args) -> None:
    framework, threads = args.child.split(":")
    threads = int(threads)
    import numpy  # noqa: F401 - loaded first, so that threadpoolctl sees its BLAS

    limiter = harness.set_numpy_threads(threads)  # noqa: F841 - keep the limit in force
    try:
        if framework == "torch":
            result = side_torch(w, args, threads)
        else:
            result = side_keras_api(framework, w, args, threads)
    except Exception as exc:  # noqa: BLE001 - reported, e.g. a ferronet API not built yet
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_TAG + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# Parent: one child per (threads, framework), then the rows
# ---------------------------------------------------------------------------------------------


def run_side(script: str, framework: str, threads: int, passthrough: list) -> dict:
    env, _ = harness.thread_env(threads)
    if framework == "keras":
        env["KERAS_BACKEND"] = "torch"
        env["KERAS_TORCH_DEVICE"] = "cpu"
    proc = subprocess.run(
        [sys.executable, script, *passthrough, "--child", f"{framework}:{threads}"],
        env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"child exited with status {proc.returncode}: {tail[0]}"}


def parse_args(w: Workload, argv=None):
    p = argparse.ArgumentParser(description=f"{w.name}: ferronet vs PyTorch eager vs Keras 3")
    p.add_argument("--threads", type=lambda s: [int(t) for t in s.split(",") if t],
                   default=sorted({1, harness.cpu_count()}), help="e.g. 1,2")
    p.add_argument("--frameworks", type=lambda s: [f for f in s.split(",") if f],
                   default=list(FRAMEWORKS), help="subset of ferronet,torch,keras")
    p.add_argument("--samples", type=int, default=w.samples)
    p.add_argument("--epochs", type=int, default=w.epochs, help="epochs per timed call")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="warmup 1, repeat 3 (smoke test)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.repeat = 1, 3
    unknown = set(args.frameworks) - set(FRAMEWORKS)
    if unknown:
        p.error(f"unknown frameworks: {sorted(unknown)}")
    return args


def main(w: Workload, script: str, argv=None) -> int:
    args = parse_args(w, argv)
    w.samples, w.epochs = args.samples, args.epochs
    if args.child is not None:
        child(w, args)
        return 0
    harness.print_header(
        f"{w.name}: ferronet vs torch eager vs keras 3 (torch backend) fit", threads=args.threads,
        extra={"median of": f"{args.repeat} after {args.warmup} warm-up",
               "metric": w.metric})
    passthrough = ["--samples", str(w.samples), "--epochs", str(w.epochs),
                   "--warmup", str(args.warmup), "--repeat", str(args.repeat)]
    units_per_call = w.epochs * (w.samples if w.metric == "samples/s" else w.steps_per_epoch())
    flops_per_unit = w.flops_per_sample() * w.epochs * w.samples / units_per_call
    for threads in args.threads:
        results = {}
        for framework in args.frameworks:
            r = run_side(script, framework, threads, passthrough)
            results[framework] = r
            if "error" in r:
                print(f"# threads={threads} | {framework}: not available ({r['error']})",
                      flush=True)
            else:
                print(f"# threads={threads} | {r['info']} | {fmt_throughput(r, w)} "
                      f"| final loss {r['loss']:.3f} | load {os.getloadavg()[0]:.2f}", flush=True)

        def throughput(framework):
            r = results.get(framework) or {}
            return units_per_call / r["seconds"] if "seconds" in r else None

        ours = throughput("ferronet")
        for peer in (f for f in args.frameworks if f != "ferronet"):
            print(harness.format_row(w.name, f"{w.case()} | {threads} thr", ours,
                                     throughput(peer), peer, flops=flops_per_unit,
                                     threads=threads, unit=w.metric, peer_gflops=True),
                  flush=True)
    return 0


def fmt_throughput(r: dict, w: Workload) -> str:
    per_call = r["seconds"]
    samples = w.epochs * w.samples / per_call
    steps = w.epochs * w.steps_per_epoch() / per_call
    return (f"{harness.fmt_time(per_call)}/call, {samples:,.0f} samples/s, "
            f"{steps:,.0f} steps/s")

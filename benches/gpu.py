"""GPU benchmarks, side by side in one run: ferronet's wgpu device against PyTorch CUDA on the
same GPU (when this machine has CUDA; on a software GPU such as Mesa's lavapipe there is no peer,
and ferronet's own CPU device is printed beside it for scale).

How to run (from the repository root):

    python benches/gpu.py                  # every workload at this machine's default sizes
    python benches/gpu.py --quick          # small sizes, few repeats: a smoke test
    python benches/gpu.py --gemm 4096,8192 --w3-batches 128,1024   # a real GPU

Workloads (issue 7):
- W1-GPU: f32 GEMM n x n x n, TFLOP/s (PyTorch: torch.matmul with TF32 off). Where the adapter
  has shader-f16, also under `set_matmul_precision("medium")` (f16 tiles, f32 sums) against
  PyTorch under its own "medium" (bf16 or TF32 inputs, f32 sums).
- W3-GPU: the W3 convnet (Conv2D 32 -> MaxPool -> Conv2D 64 -> MaxPool -> Flatten -> Dense 10),
  Adam, training samples/s at each batch size.
- W4-GPU: LSTM(128) and GRU(128) over 64 steps of 32 features, batch 64, then Dense(10): training
  samples/s (PyTorch: cuDNN).
- W5-GPU: the tiny MLP (64-32-10, batch 32, Adam) training steps/s.
- dispatch: the cost of one small op (2,000 dependent adds on 64 values, then a wait), us per op,
  and the host time of recording one (PyTorch: the launch). What bounds W5.
Timing: ferronet runs are timed around `fit` (which reads its losses back at the epoch's end) or
around an op followed by `ferronet.config.synchronize()`; PyTorch around the loop followed by
`torch.cuda.synchronize()`. Each figure is the median of the timed repeats after warm-ups.
Output: one line per case, `workload | case | ferronet X | peer Y | ratio Z x` (ratio > 1:
ferronet faster), and a first line naming the adapter.
"""

import argparse
import statistics
import sys
import time

import numpy as np

import ferronet as fn


def median_time(f, warmup, repeat):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def row(workload, case, ours, peer, unit, higher_is_better=True):
    if peer is None:
        print(f"{workload} | {case} | ferronet {ours:,.4g} {unit} | peer n/a", flush=True)
        return
    ratio = ours / peer if higher_is_better else peer / ours
    print(f"{workload} | {case} | ferronet {ours:,.4g} {unit} | peer {peer:,.4g} {unit} | ratio {ratio:.2f}x", flush=True)


def w1_gemm(n, args, torch):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    flops = 2.0 * n**3

    def ours_on(device):
        ta, tb = fn.tensor(a).to(device), fn.tensor(b).to(device)

        def run():
            out = ta @ tb
            if device == "gpu":
                fn.config.synchronize()
            return out

        return flops / median_time(run, args.warmup, args.repeat) / 1e12

    def torch_rate(precision):
        torch.set_float32_matmul_precision(precision)
        ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()

        def run_torch():
            out = ta @ tb
            torch.cuda.synchronize()
            return out

        rate = flops / median_time(run_torch, args.warmup, args.repeat) / 1e12
        torch.set_float32_matmul_precision("highest")
        return rate

    ours = ours_on("gpu")
    peer, label = None, "torch.matmul (CUDA, TF32 off)"
    if torch is not None:
        peer = torch_rate("highest")  # TF32 off
    else:
        label = "ferronet cpu device (no CUDA peer here)"
        peer = ours_on("cpu") if n <= 2048 else None
    row("W1-GPU gemm", f"n={n} vs {label}", ours, peer, "TFLOP/s")
    if "shader-f16" in fn.config.gpu_info()["features"]:
        fn.config.set_matmul_precision("medium")
        try:
            ours = ours_on("gpu")
        finally:
            fn.config.set_matmul_precision("highest")
        if torch is not None:
            peer, label = torch_rate("medium"), "torch.matmul, matmul precision medium"
        row("W1-GPU gemm, f16 tiles", f"n={n} vs {label}", ours, peer, "TFLOP/s")


def digits_like(samples, shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples,) + shape).astype(np.float32), rng.integers(0, classes, size=samples)


def fit_rate(model_fn, x, y, batch, epochs, args, device, unit_per_call):
    m = model_fn(device)
    m.compile(optimizer=fn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    seconds = median_time(lambda: m.fit(x, y, batch_size=batch, epochs=epochs, verbose=0), args.warmup, args.repeat)
    return unit_per_call / seconds


def torch_rate(torch, module, x, y, batch, epochs, args, unit_per_call, logits=True):
    dev = "cuda"
    model = module.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x).to(dev), torch.from_numpy(y.astype(np.int64)).to(dev)

    def run():
        for _ in range(epochs):
            for s in range(0, len(tx), batch):
                opt.zero_grad()
                loss = loss_fn(model(tx[s:s + batch]), ty[s:s + batch])
                loss.backward()
                opt.step()
        torch.cuda.synchronize()

    return unit_per_call / median_time(run, args.warmup, args.repeat)


def w3(batch, args, torch):
    samples = max(batch * 4, 512) if not args.quick else batch * 2
    x, y = digits_like(samples, (28, 28, 1), 10)

    def convnet(device):
        L = fn.layers
        return fn.Sequential([fn.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(), L.Conv2D(64, 3, activation="relu"),
                              L.MaxPooling2D(), L.Flatten(), L.Dense(10, activation="softmax")], device=device)

    ours = fit_rate(convnet, x, y, batch, 1, args, "gpu", samples)
    peer, label = None, "PyTorch CUDA eager"
    if torch is not None:
        nn = torch.nn
        module = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))
        peer = torch_rate(torch, module, np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y, batch, 1, args, samples)
    else:
        label = "ferronet cpu device"
        peer = fit_rate(convnet, x, y, batch, 1, args, "cpu", samples)
    row("W3-GPU convnet train", f"batch {batch} vs {label}", ours, peer, "samples/s")


def w4(cell, args, torch):
    steps, features, units, batch = (64, 32, 128, 64) if not args.quick else (8, 8, 16, 16)
    samples = 256 if not args.quick else 32
    x, y = digits_like(samples, (steps, features), 10)

    def rnn(device):
        layer = fn.layers.LSTM(units) if cell == "LSTM" else fn.layers.GRU(units)
        return fn.Sequential([fn.Input((steps, features)), layer, fn.layers.Dense(10, activation="softmax")], device=device)

    ours = fit_rate(rnn, x, y, batch, 1, args, "gpu", samples)
    peer, label = None, "PyTorch CUDA (cuDNN)"
    if torch is not None:
        nn = torch.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (nn.LSTM if cell == "LSTM" else nn.GRU)(features, units, batch_first=True)
                self.head = nn.Linear(units, 10)

            def forward(self, t):
                out, _ = self.rnn(t)
                return self.head(out[:, -1])

        peer = torch_rate(torch, Net(), x, y, batch, 1, args, samples)
    else:
        label = "ferronet cpu device"
        peer = fit_rate(rnn, x, y, batch, 1, args, "cpu", samples)
    row("W4-GPU rnn train", f"{cell} vs {label}", ours, peer, "samples/s")


def w5(args, torch):
    samples = 1797 if not args.quick else 320
    x, y = digits_like(samples, (64,), 10)
    epochs = 5 if not args.quick else 1
    steps = epochs * -(-samples // 32)

    def mlp(device):
        return fn.Sequential([fn.Input((64,)), fn.layers.Dense(32, activation="relu"), fn.layers.Dense(10, activation="softmax")], device=device)

    ours = fit_rate(mlp, x, y, 32, epochs, args, "gpu", steps)
    peer, label = None, "PyTorch CUDA eager"
    if torch is not None:
        nn = torch.nn
        peer = torch_rate(torch, nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), x, y, 32, epochs, args, steps)
    else:
        label = "ferronet cpu device"
        peer = fit_rate(mlp, x, y, 32, epochs, args, "cpu", steps)
    row("W5-GPU tiny mlp train", f"vs {label}", ours, peer, "steps/s")


def dispatch(args, torch):
    ops = 2000 if not args.quick else 500
    x = fn.tensor(np.ones(64, np.float32)).to("gpu")

    def ours():
        y = x
        for _ in range(ops):
            y = y + x
        fn.config.synchronize()

    with fn.no_grad():
        total = median_time(ours, args.warmup, args.repeat) / ops * 1e6
        fn.config.synchronize()
        t = time.thread_time()
        y = x
        for _ in range(ops):
            y = y + x
        host = (time.thread_time() - t) / ops * 1e6
        fn.config.synchronize()
    peer, label = None, "PyTorch CUDA"
    if torch is not None:
        tx = torch.ones(64, device="cuda")

        def theirs():
            y = tx
            for _ in range(ops):
                y = y + tx
            torch.cuda.synchronize()

        peer = median_time(theirs, args.warmup, args.repeat) / ops * 1e6
    else:
        label = "no CUDA peer"
    row("dispatch small op", f"record + run vs {label}", total, peer, "us/op", higher_is_better=False)
    row("dispatch small op", "host time to record", host, None, "us/op")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--gemm", default=None, help="comma-separated GEMM sizes (default 1024,2048; quick: 256)")
    p.add_argument("--w3-batches", default="128", help="comma-separated W3 batch sizes")
    p.add_argument("--only", default="w1,w3,w4,w5,dispatch", help="comma-separated workloads")
    args = p.parse_args()
    args.warmup, args.repeat = (1, 2) if args.quick else (2, 5)
    info = fn.config.gpu_info()
    if info is None:
        print("no GPU adapter: nothing to measure")
        return 1
    torch = torch_cuda()
    peer = f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}" if torch is not None else "no CUDA peer"
    features = ", ".join(info["features"]) or "none"
    print(f"# ferronet {fn.__version__} | adapter {info['name']} ({info['backend']}, {info['device_type']}, driver {info['driver']}; features {features}; subgroup sizes {info['subgroup_sizes']}) | {peer}", flush=True)
    only = set(args.only.split(","))
    if "w1" in only:
        for n in [int(v) for v in (args.gemm or ("256" if args.quick else "1024,2048")).split(",")]:
            w1_gemm(n, args, torch)
    if "w3" in only:
        for b in [int(v) for v in args.w3_batches.split(",")]:
            w3(b, args, torch)
    if "w4" in only:
        for cell in ("LSTM", "GRU"):
            w4(cell, args, torch)
    if "w5" in only:
        w5(args, torch)
    if "dispatch" in only:
        dispatch(args, torch)
    fallbacks = fn.config.cpu_fallbacks()
    print(f"# ops that ran on the CPU for GPU tensors: {fallbacks or 'none'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

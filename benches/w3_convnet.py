"""W3 / W6: the Keras "simple MNIST convnet" on 28x28x1 inputs, ferronet vs PyTorch eager.

How to run (from the repository root):

    pip install -e '.[bench]'
    python benches/w3_convnet.py              # 1 and all cores
    python benches/w3_convnet.py --quick      # a smoke test

Model: Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Flatten ->
Dropout(0.5) -> Dense(10, softmax); PyTorch: the same layers (Conv2d, ReLU, MaxPool2d, Linear,
CrossEntropyLoss on logits), Adam(1e-3) on both sides, random data.

- W3: training samples/s at batch 128 (1,024 samples per timed `fit` / epoch loop).
- W6: `predict` latency on one image (ferronet `model.predict(x, verbose=0)` and `model(x)`;
  PyTorch eager `model(x)` under `torch.no_grad()`).
- Kernels: ferronet's conv forward, backward-input and backward-weight GFLOP/s on the second
  convolution's shape (batch 128, 13x13x32 -> 11x11x64), next to a GEMM of the same FLOPs. A
  backward pass is timed as forward + `backward(g)` with a dense upstream gradient `g`, minus the
  forward (until 29 Nov: `sum().backward()`, whose broadcast gradient cost more than a millisecond
  on top of the kernel).
FLOPs: 2 * MACs; a training sample is 3x the forward FLOPs (nominal, as for W2).
Each framework and thread count runs in its own subprocess, `--rounds` times (default 3),
alternating ferronet and PyTorch; each figure is the median over the rounds, and a `# rounds` line
gives every round's ratios. (On this 2-vCPU VM a process sometimes runs ~1.5x slower for seconds
at a time, whichever framework it is; one pair of runs can catch one side slow and the other not.)
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

BATCH = 128
SAMPLES = 1024
# Forward MACs per sample: conv1 26*26*32*9, conv2 11*11*64*288, dense 1600*10.
FORWARD_FLOPS = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 1600 * 10)
TRAIN_FLOPS = 3 * FORWARD_FLOPS


def side_ferronet(args):
    import numpy as np

    import ferronet as keras
    from ferronet import layers

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    train = harness.timeit(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), args.warmup, args.repeat)
    one = x[:1]
    predict = harness.timeit(lambda: model.predict(one, verbose=0), 20, args.repeat * 20)
    call = harness.timeit(lambda: model(one), 20, args.repeat * 20)
    # Kernels on conv2's shape.
    xk = rng.random((BATCH, 13, 13, 32), dtype=np.float32)
    kk = rng.random((3, 3, 32, 64), dtype=np.float32) * 0.1
    flops = 2 * BATCH * 11 * 11 * 64 * 288
    fwd = harness.timeit(lambda: keras.ops.conv(xk, kk), args.warmup, args.repeat)

    upstream = keras.tensor(np.ones((BATCH, 11, 11, 64), np.float32))

    def backward(wrt_input):
        xt = keras.tensor(xk, requires_grad=wrt_input)
        kt = keras.tensor(kk, requires_grad=not wrt_input)
        keras.ops.conv(xt, kt).backward(upstream)

    bwd_in = harness.timeit(lambda: backward(True), args.warmup, args.repeat) - fwd
    bwd_w = harness.timeit(lambda: backward(False), args.warmup, args.repeat) - fwd
    a = rng.random((BATCH * 121, 288), dtype=np.float32)
    b = rng.random((288, 64), dtype=np.float32)
    gemm = harness.timeit(lambda: keras.ops.matmul(a, b), args.warmup, args.repeat)
    return {"train": SAMPLES / train, "predict": predict, "call": call,
            "kernels": {"conv forward": flops / fwd / 1e9, "conv backward-input": flops / bwd_in / 1e9,
                        "conv backward-weight": flops / bwd_w / 1e9, "gemm (15488x288 @ 288x64)": flops / gemm / 1e9}}


def side_torch(args, threads):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(SAMPLES, 1, 28, 28)
    y = torch.randint(0, 10, (SAMPLES,))

    def epoch():
        model.train()
        order = torch.randperm(SAMPLES)
        for i in range(0, SAMPLES, BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()

    train = harness.timeit(epoch, args.warmup, args.repeat)
    model.eval()
    one = x[:1]

    def infer():
        with torch.no_grad():
            return model(one)

    predict = harness.timeit(infer, 20, args.repeat * 20)
    return {"train": SAMPLES / train, "predict": predict, "call": predict}


def child(args):
    threads = args.child
    if args.framework == "ferronet":
        result = side_ferronet(args)
    else:
        result = side_torch(args, threads)
    print("RESULT " + json.dumps(result), flush=True)


def run_side(framework, threads, args):
    return harness.run_side(os.path.abspath(__file__), framework, threads, ["--warmup", str(args.warmup), "--repeat", str(args.repeat)])

def median_side(results):
    """Each figure of one framework's rounds (train, predict, call, kernels), as its median."""
    out = {k: statistics.median(r[k] for r in results) for k in ("train", "predict", "call")}
    if "kernels" in results[0]:
        out["kernels"] = {name: statistics.median(r["kernels"][name] for r in results) for name in results[0]["kernels"]}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--framework", default="ferronet")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each side; figures are their medians")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.repeat, args.rounds = 1, 3, 1
    if args.child is not None:
        child(args)
        return 0
    threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, harness.cpu_count()})
    harness.print_header("W3/W6 convnet: ferronet vs torch eager", threads=threads,
                         extra={"median of": f"{args.repeat} after {args.warmup} warm-up, then of {args.rounds} alternating rounds"})
    for n in threads:
        rounds = [(run_side("ferronet", n, args), run_side("torch", n, args)) for _ in range(args.rounds)]
        rounds = [(o, p) for o, p in rounds if o and p]
        if not rounds:
            continue
        ours, peer = median_side([o for o, _ in rounds]), median_side([p for _, p in rounds])
        per_round = "; ".join(f"W3 {o['train'] / p['train']:.2f}x W6 {p['predict'] / o['predict']:.2f}x "
                              f"({o['predict'] * 1e6:.1f} / {p['predict'] * 1e6:.0f} us)" for o, p in rounds)
        print(f"# rounds, {n} thr: {per_round}", flush=True)
        case = f"28x28x1 convnet | b{BATCH} adam | f32 | cpu | {n} thr"
        print(harness.format_row("W3 convnet train", case, ours["train"], peer["train"], "torch", flops=TRAIN_FLOPS,
                                 threads=n, unit="samples/s", peer_gflops=True), flush=True)
        case = f"28x28x1 convnet | 1 image | f32 | cpu | {n} thr"
        print(harness.format_row("W6 predict latency", case + " | predict()", ours["predict"], peer["predict"], "torch", flops=FORWARD_FLOPS, threads=n), flush=True)
        print(harness.format_row("W6 call latency", case + " | model(x)", ours["call"], peer["predict"], "torch", flops=FORWARD_FLOPS, threads=n), flush=True)
        for name, g in ours["kernels"].items():
            print(f"kernel | {name} | b{BATCH} 13x13x32 -> 11x11x64 k3 | f32 | cpu | {n} thr | {g:.1f} GFLOP/s "
                  f"({100 * g / harness.peak_gflops(n):.0f}% of peak)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

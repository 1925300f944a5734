"""W4: LSTM(128) and GRU(128) over 64 timesteps of 32 features, batch 64, then Dense(10):
ferronet vs PyTorch eager (`torch.nn.LSTM` / `torch.nn.GRU`, oneDNN's fused RNN on CPU).

How to run (from the repository root):

    pip install -e '.[bench]'
    python benches/w4_rnn.py              # 1 and all cores
    python benches/w4_rnn.py --quick      # a smoke test

Training samples/s (1,024 samples per timed `fit` / epoch loop, Adam(1e-3), sparse categorical
cross-entropy on logits for torch / softmax for ferronet) and inference samples/s (`predict` on
1,024 samples at batch 64; torch: `model(x)` per batch under `no_grad`).
FLOPs: forward 2*T*G*U*(F+U) per sample (G = 4 gates for LSTM, 3 for GRU; the Dense head is
negligible); a training sample is 3x that (nominal, as for W2/W3): LSTM 31.5 MFLOP, GRU 23.6.
Each framework and thread count runs in its own subprocess.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

BATCH, STEPS, FEATURES, UNITS, CLASSES = 64, 64, 32, 128, 10
SAMPLES = 1024
GATES = {"lstm": 4, "gru": 3}


def forward_flops(cell):
    return 2 * STEPS * GATES[cell] * UNITS * (FEATURES + UNITS) + 2 * UNITS * CLASSES


def data():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal((SAMPLES, STEPS, FEATURES), dtype=np.float32), rng.integers(0, CLASSES, SAMPLES)


def side_ferronet(args, cell):
    import ferronet as keras
    from ferronet import layers

    keras.utils.set_random_seed(0)
    x, y = data()
    rnn = layers.LSTM(UNITS) if cell == "lstm" else layers.GRU(UNITS)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), rnn, layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    train = harness.timeit(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), args.warmup, args.repeat)
    infer = harness.timeit(lambda: model.predict(x, batch_size=BATCH, verbose=0), args.warmup, args.repeat)
    return {"train": SAMPLES / train, "infer": SAMPLES / infer}


def side_torch(args, cell, threads):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(FEATURES, UNITS, batch_first=True)
            self.head = nn.Linear(UNITS, CLASSES)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xn, yn = data()
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)

    def epoch():
        model.train()
        order = torch.randperm(SAMPLES)
        for i in range(0, SAMPLES, BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()

    def infer():
        model.eval()
        with torch.no_grad():
            return [model(x[i:i + BATCH]) for i in range(0, SAMPLES, BATCH)]

    train = harness.timeit(epoch, args.warmup, args.repeat)
    inference = harness.timeit(infer, args.warmup, args.repeat)
    return {"train": SAMPLES / train, "infer": SAMPLES / inference}


def child(args):
    if args.framework == "ferronet":
        result = side_ferronet(args, args.cell)
    else:
        result = side_torch(args, args.cell, args.child)
    print("RESULT " + json.dumps(result), flush=True)


def run_side(framework, cell, threads, args):
    return harness.run_side(os.path.abspath(__file__), framework, threads,
                            ["--cell", cell, "--warmup", str(args.warmup), "--repeat", str(args.repeat)])

def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default=None)
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--framework", default="ferronet")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.repeat = 1, 2
    if args.child is not None:
        child(args)
        return 0
    threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, harness.cpu_count()})
    harness.print_header("W4 recurrent: ferronet vs torch eager", threads=threads,
                         extra={"median of": f"{args.repeat} after {args.warmup} warm-up"})
    for n in threads:
        for cell in args.cells.split(","):
            ours, peer = run_side("ferronet", cell, n, args), run_side("torch", cell, n, args)
            if not ours or not peer:
                continue
            case = f"{cell.upper()}({UNITS}) T{STEPS} F{FEATURES} | b{BATCH} adam | f32 | cpu | {n} thr"
            print(harness.format_row(f"W4 {cell} train", case, ours["train"], peer["train"], "torch",
                                     flops=3 * forward_flops(cell), threads=n, unit="samples/s", peer_gflops=True), flush=True)
            print(harness.format_row(f"W4 {cell} predict", case.replace("adam", "inference"), ours["infer"], peer["infer"],
                                     "torch", flops=forward_flops(cell), threads=n, unit="samples/s", peer_gflops=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

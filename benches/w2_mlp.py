"""W2: MLP 784-512-256-10 training throughput (samples/s): ferronet vs PyTorch eager vs Keras 3.

How to run (from the repository root, with any interpreter that has the packages):

    pip install -e '.[bench]'                # ferronet + torch + keras 3 + psutil
    python benches/w2_mlp.py                 # 1 and all cores; 3 warm-up + 20 timed fit calls each
    python benches/w2_mlp.py --quick         # 1 warm-up + 3 timed calls: a smoke test
    python benches/w2_mlp.py --frameworks torch,keras --threads 2 --samples 8192 --epochs 3

Model: Dense(512, relu) -> Dense(256, relu) -> Dense(10, softmax) on 784 inputs, batch 128,
Adam(lr 1e-3), sparse categorical cross-entropy; random data, 4096 samples, 2 epochs per timed
`fit` call. The Keras and ferronet sides run the same code (`import ferronet as keras`); ferronet
prints `n/a` until its `Sequential`/`fit` exist. Driver, peers and caveats: benches/mlp_common.py.

Output: a header line, a `# threads=N | <side> ...` line per side (per-call time, samples/s,
steps/s, final loss), then per peer
`W2 mlp train | case | ferronet X samples/s | torch Y samples/s | ratio Z x | G GFLOP/s (F% of peak)
| torch G GFLOP/s` (ratio > 1: ferronet faster; GFLOP/s = samples/s x 3 x forward GEMM FLOPs).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mlp_common import Workload, main  # noqa: E402

SMALL_SAMPLES = 4096
W2 = Workload(name="W2 mlp train", units=(784, 512, 256, 10), batch=128, samples=SMALL_SAMPLES,
              epochs=2, metric="samples/s")

if __name__ == "__main__":
    sys.exit(main(W2, os.path.abspath(__file__)))

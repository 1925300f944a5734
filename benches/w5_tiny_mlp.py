"""W5: tiny MLP 64-32-10 training speed (steps/s) on digits-sized data: ferronet vs PyTorch eager
vs Keras 3. At this size per-step framework overhead, not arithmetic, is what is measured.

How to run (from the repository root, with any interpreter that has the packages):

    pip install -e '.[bench]'                # ferronet + torch + keras 3 + psutil
    python benches/w5_tiny_mlp.py            # 1 and all cores; 3 warm-up + 20 timed fit calls each
    python benches/w5_tiny_mlp.py --quick    # 1 warm-up + 3 timed calls: a smoke test
    python benches/w5_tiny_mlp.py --frameworks torch,keras --threads 1

Model: Dense(32, relu) -> Dense(10, softmax) on 64 inputs, batch 32, Adam(lr 1e-3), sparse
categorical cross-entropy; random data shaped like sklearn's digits (1797 x 64, 10 classes), so
57 steps per epoch (the last batch has 5 samples), 5 epochs per timed `fit` call. The Keras and
ferronet sides run the same code (`import ferronet as keras`); ferronet prints `n/a` until its
`Sequential`/`fit` exist. Driver, peers and caveats: benches/mlp_common.py.

Output: a header line, a `# threads=N | <side> ...` line per side (per-call time, samples/s,
steps/s, final loss), then per peer
`W5 tiny mlp train | case | ferronet X steps/s | torch Y steps/s | ratio Z x | G GFLOP/s (...)
| torch G GFLOP/s` (ratio > 1: ferronet faster).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mlp_common import Workload, main  # noqa: E402

DIGITS_SAMPLES = 1797  # sklearn.datasets.load_digits: 1797 images of 8x8
W5 = Workload(name="W5 tiny mlp train", units=(64, 32, 10), batch=32, samples=DIGITS_SAMPLES,
              epochs=5, metric="steps/s")

if __name__ == "__main__":
    sys.exit(main(W5, os.path.abspath(__file__)))

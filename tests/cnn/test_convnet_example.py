"""examples/convnet.py (Keras's "Simple MNIST convnet" on the bundled digits) runs as written and
reaches 0.97 test accuracy."""

import pathlib
import re
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "convnet.py"


def test_convnet_example_reaches_097_on_digits():
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "│ conv2d (Conv2D)                 │ (None, 8, 8, 32)       │           320 │" in out.stdout
    assert "│ max_pooling2d_1 (MaxPooling2D)  │ (None, 2, 2, 64)       │             0 │" in out.stdout
    assert "Epoch 25/25" in out.stdout
    assert float(re.search(r"Test accuracy: ([0-9.]+)", out.stdout).group(1)) >= 0.97

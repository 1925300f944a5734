"""examples/vanishing_gradients.py and examples/sequence.py run and show what they claim."""

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def run(script, *args):
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_vanishing_gradients_example(tmp_path):
    # Short runs: 4 epochs for the dense networks, the adding problem at 40 steps.
    out = run("vanishing_gradients.py", "--epochs", "4", "--rnn-epochs", "6", "--steps", "40", "--figure-dir", str(tmp_path))
    lines = {line.split(":")[0].strip(): line for line in out.stdout.splitlines() if ": test" in line}
    accuracy = {k: float(v.split("test accuracy ")[1].split()[0]) for k, v in lines.items() if "accuracy" in v}
    assert accuracy["sigmoid"] < 0.3 and min(accuracy["relu"], accuracy["elu"], accuracy["relu+batchnorm"]) > 0.8
    ratio = float(lines["sigmoid"].split("(ratio ")[1].rstrip(")"))
    assert ratio < 1e-4
    mse = {k: float(v.split("test MSE ")[1].split()[0]) for k, v in lines.items() if "MSE" in v}
    assert mse["LSTM"] < 0.05 < mse["SimpleRNN"]
    assert "vanishing gradients" in out.stderr
    for name in ("sigmoid", "relu", "elu", "relu_batchnorm", "adding_simplernn", "adding_lstm"):
        assert (tmp_path / f"gradient_norms_{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_sequence_example():
    out = run("sequence.py", "--epochs", "5")
    accuracy = float(out.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.9
    padded, unpadded = out.stdout.split("padded to 40 -> ")[1].split(", unpadded -> ")
    assert abs(float(padded) - float(unpadded.split()[0])) < 1e-5

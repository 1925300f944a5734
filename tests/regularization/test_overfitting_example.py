"""examples/overfitting.py runs and every regularized run ends with a smaller gap than the plain one."""

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "overfitting.py"


def test_overfitting_example_regularized_gaps_are_smaller(tmp_path):
    figure = tmp_path / "overfitting.png"
    out = subprocess.run([sys.executable, str(EXAMPLE), "--figure", str(figure)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "smaller validation-train loss gap than the plain one: True" in out.stdout
    for run in ("plain", "dropout", "l2", "batchnorm", "early_stopping"):
        assert run in out.stdout
    assert figure.read_bytes()[:4] == b"\x89PNG"

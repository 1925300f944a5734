"""ferronet writes .keras files that Keras 3 loads and predicts the same with.

Without Keras installed this checks the files' structure; with `FERRONET_KERAS_PYTHON` set to a
Python that has Keras (e.g. `FERRONET_KERAS_PYTHON=/path/to/venv/bin/python KERAS_BACKEND=torch`),
it runs tests/data/keras_fixtures.py `check` on them, the same script that wrote the fixtures."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import ferronet as fn
from persistence.common import DATA, available_layer_models, build, fixture

h5py = pytest.importorskip("h5py")

KERAS_CASES = ["activations", "conv2d", "conv_variants", "dense", "sequence1d", "bidirectional", "embedding", "gru", "lstm", "rnn_cells",
               "simple_rnn"]


def export_all(folder):
    """Every Keras fixture re-saved by ferronet, and one model per ferronet layer class, with
    ferronet's inputs and predictions beside each file."""
    written = []
    for name in KERAS_CASES:
        try:
            model = fn.models.load_model(fixture(name)[0])
        except fn.errors.FileFormatError as e:
            if "unknown layer class" in str(e):
                continue  # a recurrent layer ferronet does not have yet
            raise
        written.append((f"from_keras_{name}", model, fixture(name)[1]))
    for name in available_layer_models():
        model, x = build(name)
        written.append((f"layer_{name}", model, x))
    for stem, model, x in written:
        model.save(folder / f"{stem}.keras")
        np.savez(folder / f"{stem}.npz", x=x, y=model.predict(x, verbose=0))
    return written


def test_written_keras_files_have_keras_structure(tmp_path):
    written = export_all(tmp_path)
    assert len(written) >= 30
    with zipfile.ZipFile(tmp_path / "layer_BatchNormalization.keras") as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        config = json.loads(z.read("config.json"))
        assert config["class_name"] == "Sequential" and config["compile_config"]["optimizer"]["class_name"] == "Adam"
        import io

        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert [f[f"layers/batch_normalization/vars/{i}"].shape for i in range(4)] == [(4,)] * 4
            assert f["layers/dense/vars"].attrs["name"].startswith("dense")


@pytest.mark.skipif(not os.environ.get("FERRONET_KERAS_PYTHON"), reason="set FERRONET_KERAS_PYTHON to a Python with Keras 3")
def test_keras_loads_ferronet_files_and_predicts_the_same(tmp_path):
    export_all(tmp_path)
    result = subprocess.run([os.environ["FERRONET_KERAS_PYTHON"], str(DATA / "keras_fixtures.py"), "check", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

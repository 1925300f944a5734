"""Fuzz the file loaders with atheris (coverage-guided, libFuzzer): any exception other than
`ferronet.errors.FileFormatError`, and any crash, is a finding.

    pip install atheris
    python tests/fuzz/fuzz_loaders.py --make-corpus tests/fuzz/corpus      # seeds: valid + malformed files
    python tests/fuzz/fuzz_loaders.py tests/fuzz/corpus -max_total_time=600 -rss_limit_mb=4096

A `FileFormatError` from the loader's safety net ("internal:") counts as a finding too. The first
input byte picks the loader: safetensors weights (`load_weights`), a `.ferronet` model,
a `.keras` model (h5py), `model_from_json`, or the raw safetensors parser. Run it from the
repository root with ferronet installed (`maturin develop`).
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import ferronet as fn
    from ferronet.errors import FileFormatError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from persistence import malformed  # noqa: E402

FOLDER = tempfile.mkdtemp(prefix="ferronet-fuzz-")
MODEL = malformed.model()
TARGETS = ["weights", "ferronet", "keras", "json", "parser"]


def _path(name):
    return os.path.join(FOLDER, name)


def run(kind, data):
    if kind == "weights":
        with open(_path("w.weights.safetensors"), "wb") as f:
            f.write(data)
        MODEL.load_weights(_path("w.weights.safetensors"))
    elif kind in ("ferronet", "keras"):
        with open(_path(f"m.{kind}"), "wb") as f:
            f.write(data)
        fn.models.load_model(_path(f"m.{kind}"))
    elif kind == "json":
        fn.models.model_from_json(data)
    else:
        fn._core.safetensors_load(data)


def test_one_input(raw):
    if not raw:
        return
    kind = TARGETS[raw[0] % len(TARGETS)]
    try:
        run(kind, raw[1:])
    except FileFormatError as e:
        if "(internal:" in str(e):
            raise  # caught only by the loader's safety net: a check is missing



def make_corpus(folder):
    os.makedirs(folder, exist_ok=True)
    MODEL.save(_path("valid.ferronet"))
    MODEL.save(_path("valid.keras"))
    MODEL.save_weights(_path("valid.weights.safetensors"))
    seeds = {"weights_valid": (0, open(_path("valid.weights.safetensors"), "rb").read()),
             "ferronet_valid": (1, open(_path("valid.ferronet"), "rb").read()),
             "keras_valid": (2, open(_path("valid.keras"), "rb").read()),
             "json_valid": (3, MODEL.to_json().encode())}
    seeds.update({f"weights_{k}": (0, v[0]) for k, v in malformed.WEIGHTS.items() if len(v[0]) < 1 << 20})
    seeds.update({f"ferronet_{k}": (1, v[0]) for k, v in malformed.native_cases(_path("valid.ferronet")).items() if len(v[0]) < 1 << 20})
    seeds.update({f"keras_{k}": (2, v[0]) for k, v in malformed.keras_cases(_path("valid.keras")).items()})
    for name, (target, data) in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(bytes([target]) + data)
    print(f"{len(seeds)} seed files in {folder}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(sys.argv[2])
    else:
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()

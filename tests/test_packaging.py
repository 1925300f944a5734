"""The installed package: the stub matches the native module, data files ship, the module is abi3.
(Import time is a benchmark, benches/import_time.py, not a test: no timing assertions here.)"""

import ast
import pathlib

import ferronet
import ferronet._core as core


def stub_names():
    stub = pathlib.Path(ferronet.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names - {"TensorLike"}


def test_stub_lists_exactly_the_native_module():
    public = {n for n in dir(core) if not n.startswith("_")} | {"__version__"}
    assert stub_names() == public


def test_stub_and_marker_are_shipped():
    folder = pathlib.Path(ferronet.__file__).parent
    assert (folder / "py.typed").exists()
    assert (folder / "datasets" / "data" / "digits.npz").exists()
    assert (folder / "datasets" / "data" / "DIGITS_LICENSE.txt").exists()


def test_native_module_is_abi3():
    assert ".abi3." in pathlib.Path(core.__file__).name

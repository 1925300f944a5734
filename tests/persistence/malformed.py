"""Hand-made malformed files, each with the message fragment its rejection must contain. Shared by
test_malformed.py and the fuzz harness's seed corpus (tests/fuzz/fuzz_loaders.py)."""

import functools
import io
import json
import struct
import warnings
import zipfile

import numpy as np

import ferronet as fn

L = fn.layers


def model():
    fn.utils.set_random_seed(0)
    m = fn.Sequential([fn.Input((4,)), L.Dense(3, name="d1"), L.BatchNormalization(name="bn"), L.Dense(2, name="d2")], name="m")
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.ones((4, 4), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    return m


def safetensors(header, data=b"", raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _entry(shape, begin, end, dtype="F32"):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def _valid_header():
    # d1 kernel (4,3) at bytes 0-48, bias 48-60; bn 4 x 12 bytes to 108; d2 kernel 108-132, bias 132-140
    names = [("d1/kernel", [4, 3]), ("d1/bias", [3]), ("bn/gamma", [3]), ("bn/beta", [3]), ("bn/moving_mean", [3]),
             ("bn/moving_variance", [3]), ("d2/kernel", [3, 2]), ("d2/bias", [2])]
    header, offset = {}, 0
    for name, shape in names:
        size = 4 * int(np.prod(shape))
        header[name] = _entry(shape, offset, offset + size)
        offset += size
    return header, offset


def _with(changes, drop=(), extra_bytes=0):
    header, size = _valid_header()
    for name in drop:
        del header[name]
    header.update(changes)
    return safetensors(header, b"\0" * (size + extra_bytes))


WEIGHTS = {  # .weights.safetensors contents -> expected message fragment
    "empty": (b"", "8-byte header size"),
    "five_bytes": (b"\x01\x02\x03\x04\x05", "8-byte header size"),
    "huge_header_size": (struct.pack("<Q", 2**63) + b"{}", "at most 100000000"),
    "header_over_cap": (struct.pack("<Q", 200_000_000) + b"{}", "at most 100000000"),
    "header_past_end": (struct.pack("<Q", 500) + b"{}", "past the end"),
    "header_not_json": (safetensors(None, raw_header=b"{not json"), "JSON header"),
    "header_array": (safetensors(None, raw_header=b"[1, 2]"), "starting with '{'"),
    "header_not_utf8": (safetensors(None, raw_header=b"{\"\xff\xfe\": 1}"), "UTF-8"),
    "header_leading_space": (safetensors(None, raw_header=b" {}"), "starting with '{'"),
    "duplicate_names": (safetensors(None, raw_header=b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                                                   b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', data=b"\0" * 4), "'a' twice"),
    "dtype_f64": (_with({"d2/bias": _entry([2], 132, 148, "F64")}, extra_bytes=8), "dtype F32"),
    "dtype_unknown": (_with({"d2/bias": _entry([2], 132, 140, "Q7")}), "JSON header"),
    "overlapping_offsets": (_with({"d1/bias": _entry([3], 40, 52)}), "tile the data"),
    "gap_in_offsets": (_with({"d2/bias": _entry([2], 188, 196)}, extra_bytes=4), "tile the data"),
    "offset_out_of_range": (_with({"d2/bias": _entry([2], 132, 4000)}), "range"),
    "reversed_offsets": (_with({"d2/bias": _entry([2], 140, 132)}), "tile the data"),
    "shape_overflow": (_with({"d2/bias": _entry([2**32, 2**32, 2**32], 132, 140)}), "overflow"),
    "negative_dim": (_with({"d2/bias": _entry([-2], 132, 140)}), "JSON header"),
    "shape_size_mismatch": (_with({"d2/bias": _entry([3], 132, 140)}), "range"),
    "trailing_bytes": (_with({}, extra_bytes=7), "trailing"),
    "truncated_data": (_with({})[:-5], "missing or trailing"),
    "metadata_not_strings": (_with({"__metadata__": {"k": 1}}), "JSON header"),
    "fractional_offset": (_with({"d2/bias": _entry([2], 132.5, 140)}), "JSON header"),
    "shape_is_string": (_with({"d2/bias": {"dtype": "F32", "shape": "2", "data_offsets": [132, 140]}}), "JSON header"),
    "missing_tensor": (safetensors({k: v for k, v in _valid_header()[0].items() if k != "d2/bias"}, b"\0" * 132), "missing ['d2/bias']"),
    "unexpected_tensor": (_with({"evil": _entry([1], 140, 144)}, extra_bytes=4), "unexpected ['evil']"),
    "wrong_shape_for_model": (safetensors({**_valid_header()[0], "d2/kernel": _entry([2, 3], 108, 132)}, b"\0" * 140), "expected shape (3, 2)"),
    "far_too_big": (safetensors({"x": _entry([1 << 21], 0, 1 << 23)}, b"\0" * (1 << 23)), "expected at most"),
}


def zip_bytes(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the duplicate-entry case is deliberate
        with zipfile.ZipFile(buffer, "w", compression=compression) as z:
            for name, data in entries:
                z.writestr(name, data)
    return buffer.getvalue()


def _members(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def _replace(members, name, data):
    return [(n, data if n == name else d) for n, d in members]


def _config_with(members, edit):
    config = json.loads(dict(members)["config.json"])
    edit(config)
    return _replace(members, "config.json", json.dumps(config).encode())


def _layer(config, i):
    return config["config"]["layers"][i]


@functools.lru_cache(maxsize=4)
def native_cases(valid_path):
    """.ferronet contents -> expected message fragment, derived from a valid file."""
    good = _members(valid_path)
    valid = open(valid_path, "rb").read()

    def patched_size(data, name, size):
        # Rewrite the uncompressed size recorded in the central directory for `name`.
        at = data.rindex(name.encode()) - 46
        return data[:at + 24] + struct.pack("<I", size) + data[at + 28:]

    def nested(depth):
        return ("[" * depth + "]" * depth).encode()

    weights = dict(good)["model.safetensors"]
    return {
        "not_a_zip": (b"PK\x03\x04 garbage" * 10, "zip"),
        "empty_file": (b"", "zip"),
        "truncated_zip": (valid[: len(valid) // 2], "zip"),
        "missing_config": (zip_bytes([m for m in good if m[0] != "config.json"]), "missing ['config.json']"),
        "dot_dot_entry": (zip_bytes(good + [("../evil.json", b"{}")]), "unsafe entry"),
        "absolute_entry": (zip_bytes(good + [("/etc/evil.json", b"{}")]), "unsafe entry"),
        "unexpected_entry": (zip_bytes(good + [("payload.py", b"import os")]), "expected only the entries"),
        "duplicate_entry": (zip_bytes(good + [("config.json", b"{}")]), "twice"),
        "zip_bomb": (zip_bytes(_replace(good, "config.json", b" " * (15 << 20)), zipfile.ZIP_DEFLATED), "zip bomb"),
        "declared_size_too_big": (patched_size(valid, "model.safetensors", 0xFFFFFFF0), "expected"),
        "metadata_not_json": (zip_bytes(_replace(good, "metadata.json", b"{")), "metadata.json: expected JSON"),
        "metadata_wrong_format": (zip_bytes(_replace(good, "metadata.json", b'{"format": "pickle", "format_version": 1}')), "format 'ferronet'"),
        "metadata_future_version": (zip_bytes(_replace(good, "metadata.json", b'{"format": "ferronet", "format_version": 99}')), "newer ferronet"),
        "config_is_a_list": (zip_bytes(_replace(good, "config.json", b"[]")), "expected a JSON object"),
        "config_duplicate_keys": (zip_bytes(_replace(good, "config.json", b'{"a": 1, "a": 2}')), "'a' twice"),
        "config_nan_literal": (zip_bytes(_replace(good, "config.json", b'{"a": NaN}')), "finite numbers"),
        "config_deeply_nested": (zip_bytes(_replace(good, "config.json", b'{"a": ' + nested(100_000) + b"}")), "nested"),
        "config_not_utf8": (zip_bytes(_replace(good, "config.json", b'{"a": "\xff"}')), "UTF-8"),
        "unknown_layer_class": (zip_bytes(_config_with(good, lambda c: _layer(c, 1).update(class_name="EvilLayer"))), "unknown layer class 'EvilLayer'"),
        "lambda_layer": (zip_bytes(_config_with(good, lambda c: _layer(c, 1).update(
            class_name="Lambda", config={"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}}))), "holds Python code"),
        "module_function_reference": (zip_bytes(_config_with(good, lambda c: _layer(c, 1).update(module="os", class_name="system"))), "unknown layer class 'system'"),
        "registered_custom_name": (zip_bytes(_config_with(good, lambda c: _layer(c, 1).update(registered_name="evil>Layer"))), "unknown registered class"),
        "functional_model": (zip_bytes(_config_with(good, lambda c: c.update(class_name="Functional"))), "Sequential"),
        "bad_layer_argument": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(units=-1))), "units"),
        "unknown_layer_argument": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(exec="print(1)"))), "exec"),
        "overflowing_input_shape": (zip_bytes(_config_with(good, lambda c: _layer(c, 0)["config"].update(batch_shape=[None, 2**40]))), "more than the file's weights can hold"),
        "huge_layer": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(units=2**40))), "more than the file's weights can hold"),
        "unsupported_keras_option": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(quantization_config="int8"))), "quantization_config"),
        "mixed_precision_policy": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(
            dtype={"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}))), "float32"),
        "weights_do_not_fit_architecture": (zip_bytes(_config_with(good, lambda c: _layer(c, 1)["config"].update(units=5))), "expected shape (4, 5)"),
        "layers_not_a_list": (zip_bytes(_config_with(good, lambda c: c["config"].update(layers={"a": 1}))), "list of layers"),
        "unknown_loss": (zip_bytes(_config_with(good, lambda c: c["compile_config"].update(loss={"class_name": "os.system", "config": {}}))), "unknown loss"),
        "unknown_optimizer": (zip_bytes(_config_with(good, lambda c: c["compile_config"]["optimizer"].update(class_name="Evil"))), "unknown optimizer"),
        "optimizer_state_for_another_optimizer": (zip_bytes(_config_with(good, lambda c: c["compile_config"]["optimizer"].update(class_name="SGD", config={}))), "got 'Adam'"),
        "optimizer_state_wrong_shape": (zip_bytes(_replace(good, "optimizer.safetensors", fn._core.safetensors_dump(
            [("d1/kernel/0", np.zeros((3, 4), np.float32))], [("optimizer", "Adam"), ("iterations", "1")]))), "expected shape (4, 3)"),
        "optimizer_state_wrong_slot_count": (zip_bytes(_replace(good, "optimizer.safetensors", fn._core.safetensors_dump(
            [("d1/kernel/0", np.zeros((4, 3), np.float32))], [("optimizer", "Adam"), ("iterations", "1")]))), "state arrays per weight"),
        "optimizer_iterations_not_a_number": (zip_bytes(_replace(good, "optimizer.safetensors", fn._core.safetensors_dump(
            [], [("optimizer", "Adam"), ("iterations", "-1")]))), "iteration count"),
        "training_seed_not_a_string": (zip_bytes(_replace(good, "training.json", b'{"fit_seed": -5, "generators": {}}')), "64-bit"),
        "training_generators_for_unknown_layer": (zip_bytes(_replace(good, "training.json", b'{"fit_seed": null, "generators": {"x": ["1"]}}')), "no layer"),
        "weights_truncated_in_zip": (zip_bytes(_replace(good, "model.safetensors", weights[:-3])), "missing or trailing"),
    }


@functools.lru_cache(maxsize=4)
def keras_cases(valid_path):
    """.keras contents -> expected fragment (the weights file inside is altered)."""
    import h5py

    good = _members(valid_path)

    def h5(edit):
        buffer = io.BytesIO(dict(good)["model.weights.h5"])
        with h5py.File(buffer, "a") as f:
            edit(f)
        return zip_bytes(_replace(good, "model.weights.h5", buffer.getvalue()))

    def replace_dataset(path, value):
        def edit(f):
            del f[path]
            f[path] = value
        return edit

    return {
        "h5_garbage": (zip_bytes(_replace(good, "model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 4000)), "HDF5"),
        "h5_wrong_shape": (h5(replace_dataset("layers/dense/vars/0", np.zeros((3, 3), np.float32))), "expected shape (4, 3)"),
        "h5_missing_group": (h5(lambda f: f.__delitem__("layers/batch_normalization")), "missing"),
        "h5_int_weights": (h5(replace_dataset("layers/dense/vars/1", np.zeros(3, np.int32))), "float weights"),
        "h5_extra_dataset": (h5(lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(1))), "expected 2 weights"),
    }

"""Every malformed file is refused with a clear FileFormatError (a ValueError) naming the file and
the defect, and never crashes the interpreter (tests/persistence/malformed.py makes them)."""

import pytest

import ferronet as fn
from persistence import malformed

FileFormatError = fn.errors.FileFormatError


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    m = malformed.model()
    m.save(folder / "m.ferronet")
    try:
        m.save(folder / "m.keras")
    except ImportError:
        pass
    return folder


def _assert_refused(path, fragment, load):
    with pytest.raises(FileFormatError) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(path) in message, message
    assert fragment in message, message


@pytest.mark.parametrize("case", sorted(malformed.WEIGHTS))
def test_malformed_weights_file_is_refused(case, tmp_path):
    data, fragment = malformed.WEIGHTS[case]
    path = tmp_path / f"{case}.weights.safetensors"
    path.write_bytes(data)
    _assert_refused(path, fragment, malformed.model().load_weights)


@pytest.mark.parametrize("case", sorted([
    "not_a_zip", "empty_file", "truncated_zip", "missing_config", "dot_dot_entry", "absolute_entry", "unexpected_entry",
    "duplicate_entry", "zip_bomb", "declared_size_too_big", "metadata_not_json", "metadata_wrong_format",
    "metadata_future_version", "config_is_a_list", "config_duplicate_keys", "config_nan_literal", "config_deeply_nested",
    "config_not_utf8", "unknown_layer_class", "lambda_layer", "module_function_reference", "registered_custom_name",
    "functional_model", "bad_layer_argument", "unknown_layer_argument", "overflowing_input_shape", "huge_layer", "unsupported_keras_option",
    "mixed_precision_policy", "weights_do_not_fit_architecture", "layers_not_a_list", "unknown_loss", "unknown_optimizer",
    "optimizer_state_for_another_optimizer", "optimizer_state_wrong_shape", "optimizer_state_wrong_slot_count",
    "optimizer_iterations_not_a_number", "training_seed_not_a_string", "training_generators_for_unknown_layer",
    "weights_truncated_in_zip"]))
def test_malformed_native_file_is_refused(case, valid, tmp_path):
    data, fragment = malformed.native_cases(valid / "m.ferronet")[case]
    path = tmp_path / f"{case}.ferronet"
    path.write_bytes(data)
    _assert_refused(path, fragment, fn.models.load_model)


@pytest.mark.parametrize("case", ["h5_garbage", "h5_wrong_shape", "h5_missing_group", "h5_int_weights", "h5_extra_dataset"])
def test_malformed_keras_file_is_refused(case, valid, tmp_path):
    pytest.importorskip("h5py")
    data, fragment = malformed.keras_cases(valid / "m.keras")[case]
    path = tmp_path / f"{case}.keras"
    path.write_bytes(data)
    _assert_refused(path, fragment, fn.models.load_model)


def test_every_case_is_listed(valid):
    assert len(malformed.native_cases(valid / "m.ferronet")) == 40
    assert len(malformed.WEIGHTS) + 40 + 5 >= 40


def test_a_refused_load_assigns_nothing(tmp_path):
    model = malformed.model()
    before = model.get_weights()
    data, _ = malformed.WEIGHTS["wrong_shape_for_model"]
    (tmp_path / "w.weights.safetensors").write_bytes(data)
    with pytest.raises(FileFormatError):
        model.load_weights(tmp_path / "w.weights.safetensors")
    for a, b in zip(model.get_weights(), before):
        assert (a == b).all()

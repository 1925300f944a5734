"""Input checks and conversions for fit/evaluate/predict: every mistake becomes a clear error
before the engine runs."""

import math

import numpy as np

from ferronet import _core


def as_samples(x, what, name="x"):
    """`x` as a float32 C-contiguous array with a batch axis, finite values, at least one sample."""
    if x is None:
        raise ValueError(f"{what}: expected {name} as an array, got None")
    if isinstance(x, (list, tuple)) and len(x) and all(isinstance(v, np.ndarray) for v in x) and len(x) > 1:
        raise ValueError(f"{what}: expected one array for {name} (Sequential models have one input/output), got a list of {len(x)} arrays")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numeric {name}, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 0:
        raise ValueError(f"{what}: expected {name} with a batch axis, got a scalar")
    if arr.shape[0] == 0:
        raise ValueError(f"{what}: expected at least one sample in {name}, got shape {arr.shape}")
    bad = _core.first_nonfinite(arr)
    if bad is not None:
        bad //= max(arr[0].size, 1)
        raise ValueError(f"{what}: {name} contains NaN or infinite values (first in sample {bad})")
    return arr


def check_lengths(what, x, y, sample_weight=None):
    if y is not None and len(y) != len(x):
        raise ValueError(f"{what}: x and y must have the same number of samples, got x {x.shape} and y {y.shape}")
    if sample_weight is not None and len(sample_weight) != len(x):
        raise ValueError(f"{what}: sample_weight must have one value per sample ({len(x)}), got {len(sample_weight)}")


def check_input_shape(model, x, what):
    """`x`'s sample shape against the model's declared input."""
    expected = model._input_shape
    if expected is None:
        return
    got = x.shape[1:]
    if got == expected:  # the common case, without the generator below
        return
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
        first = model.layers[0].name if model.layers else model.name
        raise ValueError(f"{first}: expected input of shape {(None,) + tuple(expected)}, got {x.shape}")


def fit_targets(loss, y, output_shape, what):
    """Targets shaped for the loss, with Keras's rank fix-up and label checks."""
    y = as_samples(y, what, "y")
    classes = output_shape[-1]
    if getattr(loss, "_kind", None) == "sparse_categorical_crossentropy":
        if y.ndim == len(output_shape) and y.shape[-1] == 1:
            y = y.reshape(y.shape[:-1])
        if y.shape[1:] != tuple(output_shape[1:-1]):
            raise ValueError(f"{what}: sparse_categorical_crossentropy expects integer labels of shape {(None,) + tuple(output_shape[1:-1])}, got y {y.shape}")
        if not np.all(np.mod(y, 1) == 0) or y.min() < 0 or y.max() >= classes:
            raise ValueError(f"{what}: sparse_categorical_crossentropy expects integer labels in [0, {classes}), got values in [{y.min()}, {y.max()}]")
        return y
    if y.ndim == len(output_shape) - 1 and classes == 1:
        y = y.reshape(y.shape + (1,))
    if y.shape[1:] != tuple(output_shape[1:]):
        hint = " (integer labels need loss='sparse_categorical_crossentropy', or one-hot them with ferronet.utils.to_categorical)" if y.ndim == 1 else ""
        raise ValueError(f"{what}: the loss {loss.name} expects y of shape {(None,) + tuple(output_shape[1:])} like the model output, got y {y.shape}{hint}")
    return y


def class_weights_to_samples(class_weight, y, what):
    """Per-sample weights from a `{class: weight}` dict (labels or one-hot targets)."""
    labels = y.reshape(len(y), -1)
    labels = labels.argmax(-1) if labels.shape[1] > 1 else labels[:, 0].round()
    weights = np.ones(len(y), np.float32)
    for cls, w in class_weight.items():
        if not math.isfinite(w):
            raise ValueError(f"{what}: class_weight values must be finite, got {cls}: {w}")
        weights[labels == int(cls)] = w
    return weights

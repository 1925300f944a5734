"""Saving and loading: `.ferronet` (native: safetensors weights, optimizer state, exact resume),
`.keras` (Keras 3 interchange), weights-only files, JSON configs. See `api` for the entry points;
`Sequential.save`, `save_weights`, `load_weights`, `to_json` forward here."""

from ferronet.saving.api import clone_model, load_model, load_weights, model_from_json, save_model, save_weights
from ferronet.saving.registry import register_keras_serializable

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_json", "clone_model", "register_keras_serializable"]

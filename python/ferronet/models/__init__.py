"""Models: `Sequential`, and loading, JSON and cloning (`ferronet.saving`)."""

from ferronet.models.sequential import Sequential
from ferronet.saving import clone_model, load_model, model_from_json, save_model

__all__ = ["Sequential", "load_model", "save_model", "model_from_json", "clone_model"]

"""Models: `Sequential`."""

from ferronet.models.sequential import Sequential

__all__ = ["Sequential"]

"""Bundled datasets."""

from ferronet.datasets import digits

__all__ = ["digits"]

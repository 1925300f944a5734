"""Callbacks: the `Callback` base with every Keras hook, `CallbackList`, `History`, `ProgbarLogger`."""

from ferronet.callbacks.callback import Callback, CallbackList
from ferronet.callbacks.history import History
from ferronet.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

"""Callbacks: the `Callback` base with every Keras hook, `CallbackList`, `History`, `ProgbarLogger`,
and Keras's training-control callbacks (early stopping, learning-rate control, logging, checkpoints)."""

from ferronet.callbacks.callback import Callback, CallbackList
from ferronet.callbacks.csv_logger import CSVLogger
from ferronet.callbacks.early_stopping import EarlyStopping
from ferronet.callbacks.gradient_monitor import GradientMonitor
from ferronet.callbacks.history import History
from ferronet.callbacks.lambda_callback import LambdaCallback
from ferronet.callbacks.learning_rate_scheduler import LearningRateScheduler
from ferronet.callbacks.model_checkpoint import ModelCheckpoint
from ferronet.callbacks.monitor_callback import MonitorCallback
from ferronet.callbacks.progbar_logger import ProgbarLogger
from ferronet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from ferronet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "CSVLogger", "EarlyStopping", "GradientMonitor", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]

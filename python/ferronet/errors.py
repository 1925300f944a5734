"""ferronet's exceptions. Each subclasses a built-in, so `except ValueError` keeps working.

- `ShapeError(ValueError)`: operand shapes do not fit an op or layer.
- `DTypeError(TypeError)`: an input has the wrong element type.
- `GradientError(ValueError)`: `backward()` cannot run as asked.
- `BackwardNotSupported(NotImplementedError)`: an op has no gradient rule.
- `DeviceError(ValueError)`: a device is unknown, unavailable or mixed.
"""

from ferronet._core import BackwardNotSupported, DeviceError, DTypeError, GradientError, ShapeError

__all__ = ["ShapeError", "DTypeError", "GradientError", "BackwardNotSupported", "DeviceError"]

"""ferronet's exceptions. Each subclasses a built-in, so `except ValueError` keeps working.

- `ShapeError(ValueError)`: operand shapes do not fit an op or layer.
- `DTypeError(TypeError)`: an input has the wrong element type.
- `GradientError(ValueError)`: `backward()` cannot run as asked.
- `BackwardNotSupported(NotImplementedError)`: an op has no gradient rule.
- `DeviceError(ValueError)`: a device is unknown, unavailable or mixed.
- `FileFormatError(ValueError)`: a saved model or weights file is malformed or does not fit the
  model (raised before anything large is allocated from it).
"""

from ferronet._core import BackwardNotSupported, DeviceError, DTypeError, FileFormatError, GradientError, ShapeError

__all__ = ["ShapeError", "DTypeError", "GradientError", "BackwardNotSupported", "DeviceError", "FileFormatError"]

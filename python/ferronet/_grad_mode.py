"""`no_grad` / `enable_grad`: switch gradient recording for the current thread."""

import functools

from ferronet import _core


class _GradMode:
    _enabled = True

    def __enter__(self):
        self._previous = _core.set_grad_enabled(self._enabled)
        return self

    def __exit__(self, *exc):
        _core.set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager (or decorator) that stops recording operations for autograd.

    Example:
    >>> import ferronet as fn
    >>> with fn.no_grad(): y = fn.tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """

    _enabled = False


class enable_grad(_GradMode):
    """Context manager (or decorator) that turns recording back on inside `no_grad`."""

    _enabled = True

"""Learning-rate schedules with Keras 3's names, arguments and formulas (`keras.optimizers.schedules`).

Pass one as an optimizer's `learning_rate`; the engine evaluates it at `optimizer.iterations` before
every step (from `_engine_spec()`, so a schedule costs no call back into Python), and
`optimizer.learning_rate` reads the value the next step will use.

Example:
>>> import ferronet as fn
>>> opt = fn.optimizers.SGD(fn.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
>>> opt.learning_rate
0.1
"""

import math


def _number(owner, arg, value, minimum=None, strict=False):
    """`value` as a float, checked finite (and `> minimum` / `>= minimum`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}: expected {arg} to be a finite number, got {arg}={value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{owner}: expected {arg} {'>' if strict else '>='} {minimum}, got {arg}={value!r}")
    return value


class LearningRateSchedule:
    """Base class: a schedule maps the optimizer step to a learning rate.

    Subclasses implement `__call__(step)` and `get_config()`; the built-in ones also give the engine
    an `_engine_spec()` dict. A custom subclass without `_engine_spec` cannot drive the Rust loop.

    Example:
    >>> import ferronet as fn
    >>> class Halving(fn.optimizers.schedules.LearningRateSchedule):
    ...     def __call__(self, step): return 0.1 / 2 ** step
    >>> Halving()(3)
    0.0125
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _engine_spec(self):
        raise NotImplementedError(f"{type(self).__name__}: custom learning-rate schedules cannot run in the engine; use a built-in schedule or a float")


class _RateDecay(LearningRateSchedule):
    """Shared arguments of `ExponentialDecay` and `InverseTimeDecay`."""

    _kind = None

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.decay_rate = _number(owner, "decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step):
        p = float(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}

    def _engine_spec(self):
        return {"kind": self._kind, "initial_learning_rate": float(self.initial_learning_rate),
                "decay_steps": float(self.decay_steps), "decay_rate": float(self.decay_rate), "staircase": self.staircase}


class ExponentialDecay(_RateDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (integer division if `staircase`).

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: int > 0, steps per factor of `decay_rate`.
        decay_rate: float, the decay factor.
        staircase: bool, decay at discrete intervals. Default False.
        name: str. Default "ExponentialDecay".

    Example:
    >>> import ferronet as fn
    >>> s = fn.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    >>> [s(9), s(10), s(25)]
    [0.1, 0.05, 0.025]
    """

    _kind = "exponential_decay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_RateDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored ratio if `staircase`).

    Args: as `ExponentialDecay`; name default "InverseTimeDecay".

    Example:
    >>> import ferronet as fn
    >>> s = fn.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    >>> [s(0), s(2)]
    [0.1, 0.05]
    """

    _kind = "inverse_time_decay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while `step <= boundaries[i]`, then `values[-1]`.

    Args:
        boundaries: strictly increasing step numbers.
        values: one more rate than `boundaries`.
        name: str. Default "PiecewiseConstant".

    Example:
    >>> import ferronet as fn
    >>> s = fn.optimizers.schedules.PiecewiseConstantDecay(boundaries=[100, 110], values=[1.0, 0.5, 0.1])
    >>> [s(100), s(101), s(111)]
    [1.0, 0.5, 0.1]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. "
                             f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}.")
        for i, b in enumerate(boundaries):
            _number(type(self).__name__, f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _number(type(self).__name__, f"values[{i}]", v)
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"{type(self).__name__}: expected strictly increasing boundaries, got boundaries={boundaries}")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step):
        return self.values[sum(1 for b in self.boundaries if step > b)]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}

    def _engine_spec(self):
        return {"kind": "piecewise_constant_decay", "boundaries": [float(b) for b in self.boundaries],
                "values": [float(v) for v in self.values]}


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at `decay_steps`
    (or, if `cycle`, `decay_steps` stretched to the first multiple at or above `step`).

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: int > 0, steps to reach `end_learning_rate`.
        end_learning_rate: float. Default 0.0001.
        power: float. Default 1.0.
        cycle: bool, restart the decay after `decay_steps`. Default False.
        name: str. Default "PolynomialDecay".

    Example:
    >>> import ferronet as fn
    >>> s = fn.optimizers.schedules.PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0)
    >>> [s(0), s(1), s(8)]
    [1.0, 0.75, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False, name="PolynomialDecay"):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.end_learning_rate = _number(owner, "end_learning_rate", end_learning_rate)
        self.power = _number(owner, "power", power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        step, steps = float(step), float(self.decay_steps)
        if self.cycle:
            steps *= 1.0 if step == 0 else math.ceil(step / steps)
        else:
            step = min(step, steps)
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - step / steps) ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle, "name": self.name}

    def _engine_spec(self):
        return {"kind": "polynomial_decay", "initial_learning_rate": float(self.initial_learning_rate),
                "decay_steps": float(self.decay_steps), "end_learning_rate": float(self.end_learning_rate),
                "power": float(self.power), "cycle": self.cycle}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup (Keras 3's formula).

    Without `warmup_target`: `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) /
    decay_steps)) + alpha)` (`warmup_steps` is ignored, as in Keras). With it: linear from `initial`
    to `warmup_target` over `warmup_steps`, then the same decay from `warmup_target`.

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: int > 0, steps to decay over.
        alpha: float, the final rate as a fraction of the decay's starting rate. Default 0.0.
        name: str. Default "CosineDecay".
        warmup_target: float or None, the rate reached after the warmup. Default None (no warmup).
        warmup_steps: int >= 0, warmup length. Default 0.

    Example:
    >>> import ferronet as fn
    >>> s = fn.optimizers.schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=10)
    >>> [s(5), s(10), s(15), s(20)]
    [0.5, 1.0, 0.5, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.alpha = _number(owner, "alpha", alpha)
        self.warmup_target = None if warmup_target is None else _number(owner, "warmup_target", warmup_target)
        self.warmup_steps = _number(owner, "warmup_steps", warmup_steps, 0)
        self.name = name

    def _decay(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps, "alpha": self.alpha,
                "name": self.name, "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}

    def _engine_spec(self):
        # warmup_target None means no warmup at all in Keras, so the engine gets warmup_steps 0 then.
        warm = self.warmup_target is not None
        return {"kind": "cosine_decay", "initial_learning_rate": float(self.initial_learning_rate),
                "decay_steps": float(self.decay_steps), "alpha": float(self.alpha),
                "warmup_target": float(self.warmup_target if warm else self.initial_learning_rate),
                "warmup_steps": float(self.warmup_steps if warm else 0)}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay)}


def serialize(schedule):
    """`{"class_name": ..., "config": ...}` for a schedule (the form `get_config` of an optimizer uses)."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    """The schedule `serialize` described."""
    cls = _BY_NAME.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"schedules: expected a serialized schedule with class_name in {sorted(_BY_NAME)}, got {config!r}")
    return cls.from_config(config.get("config", {}))

"""Optimizers with Keras 3 names, defaults and update rules; the updates run in the engine.
`learning_rate` is a float or a `ferronet.optimizers.schedules.LearningRateSchedule`.

Example:
>>> import ferronet as fn
>>> fn.optimizers.get("adam").learning_rate
0.001
"""

import math

from ferronet import _core
from ferronet.optimizers import schedules
from ferronet.optimizers.schedules import LearningRateSchedule

_CLIP_ARGS = ("clipnorm", "clipvalue", "global_clipnorm")


class Optimizer:
    """Base optimizer. Shared kwargs: learning_rate, weight_decay, clipnorm, clipvalue,
    global_clipnorm (at most one of the three), name.

    `learning_rate` may be a `LearningRateSchedule`: the engine evaluates it at `iterations` before
    each step, and the `learning_rate` property reads that value. As in Keras, such an optimizer's
    rate is then not settable with a float (TypeError; so `LearningRateScheduler` and
    `ReduceLROnPlateau` refuse it too); assigning another schedule before training replaces it.
    """

    _rule = None

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{type(self).__name__}: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{type(self).__name__}: expected a finite {arg} >= 0, got {arg}={value}")
        if use_ema or gradient_accumulation_steps or loss_scale_factor:
            raise NotImplementedError(f"{type(self).__name__}: use_ema, gradient_accumulation_steps and loss_scale_factor are not supported yet")
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self._schedule = None
        self._learning_rate = 0.0
        self._engine_state = None
        self.learning_rate = learning_rate

    @staticmethod
    def _check_rate(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"optimizer: expected a finite learning_rate >= 0, got learning_rate={value!r}")

    def _config(self):
        return {}

    def _engine(self):
        if self._engine_state is None:
            args = (self._rule, self._learning_rate, self._config(), self.weight_decay, self.clipnorm, self.clipvalue, self.global_clipnorm)
            if self._schedule is None:
                self._engine_state = _core.Optimizer(*args)
            else:
                self._engine_state = _engine_with_schedule(args, self._schedule)
        return self._engine_state

    @property
    def learning_rate(self):
        if self._schedule is not None:
            return float(self._schedule(self._engine_state.iterations if self._engine_state is not None else 0))
        return self._engine_state.learning_rate if self._engine_state is not None else self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule):
            if self._engine_state is not None:
                raise NotImplementedError(f"{type(self).__name__}: a learning-rate schedule can only be set before the optimizer's first step")
            self._schedule = value
            self._learning_rate = float(value(0))
            return
        if self._schedule is not None:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` constructor argument, "
                            "hence its learning rate is not settable. If you need the learning rate to be settable, you should "
                            "instantiate the optimizer with a float `learning_rate` argument.")
        self._check_rate(value)
        self._learning_rate = float(value)
        if self._engine_state is not None:
            self._engine_state.learning_rate = float(value)

    lr = learning_rate

    @property
    def iterations(self):
        return self._engine().iterations

    @property
    def built(self):
        return self._engine_state is not None and self._engine_state.variable_count() > 0

    def variable_count(self):
        return self._engine_state.variable_count() if self._engine_state is not None else 0

    def apply_gradients(self, grads_and_vars):
        """Apply `[(grad, weight), ...]` (Tensors) in one step, as Keras's `apply_gradients`."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        self._engine().apply_gradients([v for _, v in pairs], [g for g, _ in pairs])

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        if var_names:
            raise NotImplementedError("exclude_from_weight_decay: var_names is not supported yet; pass var_list")
        self._engine().exclude_from_weight_decay(list(var_list or []))

    def get_config(self):
        rate = self._learning_rate if self._schedule is None else schedules.serialize(self._schedule)
        return {"name": self.name, "learning_rate": rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm, **self._config()}

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("learning_rate"), dict):
            config = {**config, "learning_rate": schedules.deserialize(config["learning_rate"])}
        return cls(**config)


def _engine_with_schedule(args, schedule):
    """The engine optimizer driven by `schedule` (the engine evaluates it at `iterations`)."""
    spec = schedule._engine_spec()
    try:
        return _core.Optimizer(*args, schedule=spec)
    except TypeError as e:
        if "schedule" not in str(e):
            raise
        raise NotImplementedError(f"{type(schedule).__name__}: this build of the ferronet engine does not accept "
                                  "learning-rate schedules yet; pass a float learning_rate") from None


class SGD(Optimizer):
    """Gradient descent, with optional momentum and Nesterov momentum (Keras's update rule)."""

    _rule = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: expected momentum in [0, 1], got momentum={momentum}")
        self.momentum, self.nesterov = momentum, nesterov
        super().__init__(learning_rate=learning_rate, **kwargs)

    def _config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's epsilon-hat form (epsilon outside the square root)."""

    _rule = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        super().__init__(learning_rate=learning_rate, **kwargs)

    def _config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004)."""

    _rule = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop (epsilon inside the square root, as Keras)."""

    _rule = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        super().__init__(learning_rate=learning_rate, **kwargs)

    def _config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad with an initial accumulator value (default 0.1)."""

    _rule = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        super().__init__(learning_rate=learning_rate, **kwargs)

    def _config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name (`"adam"`), a class, a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"optimizers: unknown optimizer {identifier!r}; known: {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"optimizers: unknown optimizer class {identifier.get('class_name')!r}")
        return cls.from_config(identifier.get("config", {}))
    raise ValueError(f"optimizers: could not interpret optimizer {identifier!r}")

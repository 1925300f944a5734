"""`Sequential`: Keras's linear stack of layers, trained by the engine's Rust loop."""

import numpy as np

from ferronet import _core, _random, config, distribute, losses, metrics as metrics_module, optimizers
from ferronet._naming import unique_name
from ferronet.layers.input_layer import InputLayer
from ferronet.layers.layer import Layer
from ferronet.models import data, summary as summary_module


_training_module = None


def _training():
    """`ferronet.models.training`, imported on first use (it pulls in the callbacks) and then kept:
    a per-call import costs about a microsecond, a visible part of `predict` on one sample."""
    global _training_module
    if _training_module is None:
        from ferronet.models import training

        _training_module = training
    return _training_module


class Sequential:
    """A linear stack of layers.

    Args:
        layers: a list of layers (optionally starting with `ferronet.Input(shape)`).
        name: default "sequential", "sequential_1", ...
        device: "cpu" or "gpu" for this model (default: `ferronet.config.get_device()` when it
            runs). A GPU request without an adapter warns once and runs on the CPU.

    Example:
    >>> import ferronet as fn
    >>> m = fn.Sequential([fn.Input((4,)), fn.layers.Dense(2)])
    >>> m.count_params()
    10
    """

    def __init__(self, layers=None, trainable=True, name=None, device=None):
        self.name = name or unique_name("sequential")
        self._device = None if device is None else config.canonical(device)
        self._placed_on = None  # where the weights and the engine's batches are (None: not yet placed)
        self.trainable = trainable
        self._layers = []
        self._input_layer = None
        self._input_shape = None
        self.built = False
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self._metric_ids = []
        self._resolved_metrics = None
        self.stop_training = False
        self.history = None
        self._engine_model = None
        self.distribute_strategy = distribute.current_strategy()  # set inside `strategy.scope()`
        self._fit_seed = None  # the last fit's shuffle/dropout seed; fit(initial_epoch=k) continues it
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    # ---- structure ------------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Append a layer (or set the input with `ferronet.Input(shape)`)."""
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers:
                raise ValueError(f"{self.name}: an Input can only be the first element of a Sequential model")
            self._input_layer = layer
            self._input_shape = tuple(layer.batch_shape[1:])
        elif not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: {layer!r} (of type {type(layer).__name__})")
        else:
            if any(l.name == layer.name for l in self._layers):
                raise ValueError(f"{self.name}: all layers added to a Sequential model should have unique names. Name '{layer.name}' is already the name of a layer in this model.")
            if not self._layers and self._input_shape is None and layer._legacy_input_shape is not None:
                self._input_shape = layer._legacy_input_shape
            self._layers.append(layer)
        self._engine_model = None
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError(f"{self.name}: there are no layers in the model")
        layer = self._layers.pop()
        self._engine_model = None
        self.built = False
        if rebuild:
            self._maybe_build()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}: no such layer: {name}. Existing layers are: {[l.name for l in self._layers]}")

    def _maybe_build(self):
        if self._input_shape is not None and self._layers:
            self.build((None,) + tuple(self._input_shape))

    def build(self, input_shape=None):
        """Create every layer's weights for `input_shape` (batch axis included)."""
        if input_shape is None:
            if self._input_shape is None:
                raise ValueError(f"{self.name}: build() needs an input_shape when the model has no Input")
            input_shape = (None,) + tuple(self._input_shape)
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: expected an input_shape with a batch axis, got {input_shape}")
        self._input_shape = input_shape[1:]
        shape = (None,) + tuple(input_shape[1:])
        for layer in self._layers:
            layer._ensure_built(shape)
            shape = layer.compute_output_shape(shape)
            if isinstance(shape, list):
                # return_state=True or Bidirectional(merge_mode=None): several tensors.
                raise ValueError(f"{self.name}: every layer of a Sequential model must have a single output, "
                                 f"but {layer.name} returns {len(shape)} tensors (shapes {shape}): return_state=True, "
                                 f"or Bidirectional with merge_mode=None, only work in a direct layer call")
            shape = tuple(shape)
        self._output_shape = shape
        self.built = True

    def _layer_shapes(self):
        shape = (None,) + tuple(self._input_shape or ())
        for layer in self._layers:
            if self.built:
                shape = tuple(layer.compute_output_shape(shape))
            yield layer, shape

    @property
    def input_shape(self):
        self._require_built("input_shape")
        return (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self._output_shape

    def _require_built(self, what):
        if not self.built:
            raise AttributeError(f"{self.name}: {what} is only known once the model is built (give it an Input or call build/fit)")

    def _engine(self):
        if self._engine_model is None:
            self._engine_model = _core.Model([layer._engine_layer() for layer in self._layers])
            self._resolved_metrics = None
            self._placed_on = None  # a new engine model: place its weights and batches
        self._place()
        return self._engine_model

    @property
    def device(self):
        """The device this model runs on now ("cpu" or "gpu")."""
        return config.resolve(self._device) if self._device is not None else config.get_device()

    def _place(self):
        """Move the weights (in place: every handle follows) and the engine's batches to `device`."""
        target = self.device
        if target != self._placed_on:
            for layer in self._layers:
                for t in layer._ordered_weights():
                    t._move_to(target)
            self._engine_model.set_device(target)
            self._placed_on = target

    # ---- weights --------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """All weights as NumPy arrays, in Keras order (layer by layer)."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Load arrays in `get_weights()` order and shapes (e.g. from a Keras model)."""
        expected = sum(len(layer._ordered_weights()) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"{self.name}: set_weights expected {expected} arrays, got {len(weights)}")
        i = 0
        for layer in self._layers:
            n = len(layer._ordered_weights())
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        self._require_built("count_params()") if not self._layers else None
        return int(sum(layer.count_params() for layer in self._layers))

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False, layer_range=None):
        """Print the Keras-format table of layers, output shapes and parameter counts."""
        text = summary_module.render(self)
        (print_fn or print)(text)

    # ---- compile --------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, device=None):
        """Configure training: an optimizer, a loss and metrics, by name or object.
        `device`: "cpu" or "gpu" for this model (as `Sequential(device=)`)."""
        if device is not None:
            self._device = config.canonical(device)
        if loss is None:
            raise ValueError(f"{self.name}: compile() needs a loss")
        if loss_weights is not None or weighted_metrics:
            raise NotImplementedError(f"{self.name}: loss_weights and weighted_metrics are not supported yet")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self.loss._engine_spec()  # refuse unsupported reductions now, not at fit time
        self._metric_ids = list(metrics or [])
        for m in self._metric_ids:
            if isinstance(m, str) and m not in ("accuracy", "acc"):
                metrics_module.resolve(m, (1, 1), (1, 1))
        self._resolved_metrics = None
        self.distribute_strategy = distribute.current_strategy() or self.distribute_strategy
        self.compiled = True

    def _require_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _prepare(self, x, y, what):
        """Build on first use, check shapes, resolve metrics, compile the engine model."""
        self._require_compiled()
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        data.check_input_shape(self, x, what)
        y = data.fit_targets(self.loss, y, self._output_shape, what)
        engine = self._engine()
        if self._resolved_metrics is None:
            resolved = [metrics_module.resolve(m, y.shape, (None,) + tuple(self._output_shape[1:])) for m in self._metric_ids]
            self._resolved_metrics = resolved
            for layer in self._layers:
                layer.trainable = layer.trainable  # freeze the trainable set now, as Keras does at compile
            specs = [(name, *m._engine_spec()) for name, m in resolved]
            engine.compile(self.loss._engine_spec(), specs, self.optimizer._engine())
        return engine, y

    # ---- training -------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, distribute=None):
        """Train for `epochs` epochs; returns a `History`. The batch loop runs in Rust.
        `distribute`: a `ferronet.distribute.DataParallel` (default: the one the model was made in)."""
        args = {k: v for k, v in locals().items() if k != "self"}
        from ferronet.models import training

        return training.fit(self, **args)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on data: a float, a list in compile order, or a dict."""
        from ferronet.models.training import evaluate

        return evaluate(self, x, y, batch_size, verbose, sample_weight, callbacks, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Predictions as a NumPy array (batches of 32 by default, inference mode)."""
        return _training().predict(self, x, batch_size, verbose)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        from ferronet.models.training import on_batch

        return on_batch(self, x, y, sample_weight, class_weight, return_dict, train=True)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        from ferronet.models.training import on_batch

        return on_batch(self, x, y, sample_weight, None, return_dict, train=False)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(len(np.asarray(x)), 1), verbose=0)

    def __call__(self, inputs, training=False):
        """Run the model on a tensor or array; returns a `Tensor` (recorded for autograd)."""
        x = inputs if isinstance(inputs, _core.Tensor) else _core.Tensor(np.ascontiguousarray(inputs, dtype=np.float32))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        return self._engine()(x, training=bool(training), seed=_random.next_seed() if training else 0)

    # ---- config and files (ferronet/saving) ---------------------------------------------------
    def get_config(self):
        """The architecture in Keras's config schema (layers serialized with module and class)."""
        from ferronet.saving import serialization

        return serialization.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model `get_config` described (fresh weights); classes from ferronet's registry."""
        from ferronet.saving import serialization

        return serialization.model_from_config(config, safe_mode=True, custom_objects=custom_objects)

    def to_json(self, **kwargs):
        """The model (and compile settings) as Keras's JSON; `ferronet.models.model_from_json` reads it."""
        import json

        from ferronet.saving import serialization

        return json.dumps(serialization.serialize_model(self), **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        """Save to `*.ferronet` (with optimizer state; resumable) or `*.keras` (Keras 3), atomically."""
        from ferronet.saving import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Save the weights to `*.weights.safetensors` or `*.weights.h5` (Keras), atomically."""
        if max_shard_size is not None:
            raise NotImplementedError("save_weights: max_shard_size is not supported")
        from ferronet.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights saved by `save_weights` (or Keras); all names and shapes must fit."""
        from ferronet.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"

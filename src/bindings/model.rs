//! `_core.Layer`, `_core.Optimizer` and `_core.Model`: what the Python `Sequential` drives.
//! Loops run with the GIL released; the Python hook is re-entered between batches only when a
//! callback wants every batch, when the progress bar is due (every 50 ms), or to check signals.

use super::convert::{as_float32_array, tensor_to_numpy, to_tensor};
use super::tensor::{detached, PyTensor};
use crate::cpu::activation::Activation;
use crate::error::{Error, Result};
use crate::nn::layers::{ActivationKind, ActivationLayer, ActivityRegularization, BatchNormalization, Conv, ConvKind, Dense, ForwardContext, Layer, LayerNormalization, Noise, NoiseKind, Pool, Reshape, Resize, Sequence, Spatial};
use crate::ops::conv::{ConvSpec, Padding};
use crate::ops::pool::PoolKind;
use crate::nn::regularizer::Regularizer;
use std::sync::atomic::AtomicBool;
use crate::nn::loss::LossKind;
use crate::nn::metrics::{Metric, MetricKind};
use crate::nn::model::{self, Compiled, Dataset, Hook, Logs, Sequential};
use crate::nn::optimizer::{Clip, Optimizer, Rule};
use crate::nn::rng::Rng;
use crate::nn::schedule::Schedule;
use crate::ops::DenseActivation;
use crate::tensor::Tensor;
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A configured layer the engine can run.
#[pyclass(name = "Layer", module = "ferronet._core", frozen)]
pub struct PyLayer {
    pub inner: Arc<dyn Layer>,
}

fn get<'py, T: FromPyObjectOwned<'py>>(cfg: &Bound<'py, PyDict>, key: &str, default: T) -> PyResult<T> {
    match cfg.get_item(key)? {
        Some(v) if !v.is_none() => v.extract().map_err(Into::into),
        _ => Ok(default),
    }
}

/// "valid" | "same" | "causal" under "padding".
fn padding_from(name: &str, cfg: &Bound<'_, PyDict>) -> PyResult<Padding> {
    Ok(match get(cfg, "padding", "valid".to_string())?.to_lowercase().as_str() {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        "causal" => Padding::Causal,
        other => return Err(Error::value(name, "padding 'valid', 'same' or 'causal'", format!("'{other}'")).into()),
    })
}

/// `{"l1": .., "l2": ..}` under `key` in `cfg`, or None.
fn regularizer(cfg: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<Regularizer>> {
    match cfg.get_item(key)? {
        Some(v) if !v.is_none() => {
            let d = v.cast::<PyDict>()?;
            Ok(Some(Regularizer { l1: get(d, "l1", 0.0)?, l2: get(d, "l2", 0.0)? }))
        }
        _ => Ok(None),
    }
}

/// An elementwise activation by Keras name, with parameters from `cfg`.
pub fn activation_from(name: &str, cfg: &Bound<'_, PyDict>, who: &str) -> PyResult<Option<Activation>> {
    Ok(Some(match name {
        "linear" => Activation::Linear,
        "relu" => {
            let max_value: f32 = get(cfg, "max_value", f32::INFINITY)?;
            let negative_slope: f32 = get(cfg, "negative_slope", 0.0)?;
            let threshold: f32 = get(cfg, "threshold", 0.0)?;
            if max_value.is_infinite() && negative_slope == 0.0 && threshold == 0.0 {
                Activation::Relu
            } else {
                Activation::ReluGeneral { max_value, negative_slope, threshold }
            }
        }
        "relu6" => Activation::ReluGeneral { max_value: 6.0, negative_slope: 0.0, threshold: 0.0 },
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "leaky_relu" => Activation::LeakyRelu { negative_slope: get(cfg, "negative_slope", 0.2)? },
        "elu" => Activation::Elu { alpha: get(cfg, "alpha", 1.0)? },
        "selu" => Activation::Selu,
        "gelu" => Activation::Gelu { approximate: get(cfg, "approximate", false)? },
        "softplus" => Activation::Softplus,
        "silu" | "swish" => Activation::Silu,
        "hard_sigmoid" => Activation::HardSigmoid,
        "softmax" => return Ok(None),
        other => return Err(Error::value(who, "a known activation", format!("'{other}'")).into()),
    }))
}

#[pymethods]
impl PyLayer {
    /// `Dense(name, kernel, bias, activation, config)`.
    #[staticmethod]
    #[pyo3(signature = (name, kernel, bias, activation, config))]
    fn dense(name: String, kernel: &Bound<'_, PyAny>, bias: Option<&Bound<'_, PyAny>>, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let act = match activation_from(activation, config, &name)? {
            Some(a) => DenseActivation::Elementwise(a),
            None => DenseActivation::Softmax,
        };
        let kernel = to_tensor(kernel, &name)?;
        let bias = match bias {
            Some(b) if !b.is_none() => Some(to_tensor(b, &name)?),
            _ => None,
        };
        Ok(PyLayer {
            inner: Arc::new(Dense {
                name,
                kernel,
                bias,
                activation: act,
                kernel_regularizer: regularizer(config, "kernel_regularizer")?,
                bias_regularizer: regularizer(config, "bias_regularizer")?,
                activity_regularizer: regularizer(config, "activity_regularizer")?,
                trainable: AtomicBool::new(true),
            }),
        })
    }

    /// A convolution (`kind`: conv, depthwise, transpose) of `rank` 1 or 2; see layers/conv.py.
    #[staticmethod]
    fn conv(name: String, kernel: PyRef<'_, PyTensor>, bias: Option<PyRef<'_, PyTensor>>, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let act = match activation_from(activation, config, &name)? {
            Some(a) => DenseActivation::Elementwise(a),
            None => DenseActivation::Softmax,
        };
        let rank: usize = get(config, "rank", 2)?;
        if !(1..=2).contains(&rank) {
            return Err(Error::value(&name, "rank 1 or 2", format!("{rank}")).into());
        }
        let pair = |key: &str| -> PyResult<[usize; 2]> {
            let v: Vec<usize> = get(config, key, vec![1; rank])?;
            if v.len() != rank {
                return Err(Error::value(&name, format!("{rank} values for {key}"), format!("{v:?}")).into());
            }
            Ok(if rank == 1 { [1, v[0]] } else { [v[0], v[1]] })
        };
        let spec = ConvSpec { strides: pair("strides")?, dilation: pair("dilation")?, padding: padding_from(&name, config)?, groups: get(config, "groups", 1)? };
        let kind_name: String = get(config, "kind", "conv".to_string())?;
        let kind = match kind_name.as_str() {
            "conv" => ConvKind::Conv,
            "depthwise" => ConvKind::Depthwise,
            "transpose" => {
                let op: Option<Vec<usize>> = get(config, "output_padding", None)?;
                ConvKind::Transpose { output_padding: op.map(|v| if rank == 1 { [0, v[0]] } else { [v[0], v[1]] }) }
            }
            other => return Err(Error::value(&name, "conv, depthwise or transpose", format!("'{other}'")).into()),
        };
        let expected_kernel_rank = if kind == ConvKind::Depthwise { 4 } else { rank + 2 };
        if kernel.inner.ndim() != expected_kernel_rank {
            return Err(Error::shape(&name, format!("a kernel of rank {expected_kernel_rank}"), crate::tensor::shape::fmt_shape(kernel.inner.shape())).into());
        }
        Ok(PyLayer {
            inner: Arc::new(Conv {
                name,
                rank,
                kind,
                kernel: kernel.inner.clone(),
                bias: bias.map(|b| b.inner.clone()),
                spec,
                channels_first: get(config, "channels_first", false)?,
                activation: act,
                kernel_regularizer: regularizer(config, "kernel_regularizer")?,
                bias_regularizer: regularizer(config, "bias_regularizer")?,
                activity_regularizer: regularizer(config, "activity_regularizer")?,
                trainable: AtomicBool::new(true),
            }),
        })
    }

    /// Max or average pooling, windowed or global.
    #[staticmethod]
    fn pool(name: String, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let rank: usize = get(config, "rank", 2)?;
        let kind = match get(config, "kind", "max".to_string())?.as_str() {
            "max" => PoolKind::Max,
            "avg" | "average" => PoolKind::Average,
            other => return Err(Error::value(&name, "max or avg", format!("'{other}'")).into()),
        };
        let global: bool = get(config, "global", false)?;
        let pair = |key: &str| -> PyResult<[usize; 2]> {
            let v: Vec<usize> = get(config, key, vec![1; rank])?;
            if v.len() != rank {
                return Err(Error::value(&name, format!("{rank} values for {key}"), format!("{v:?}")).into());
            }
            Ok(if rank == 1 { [1, v[0]] } else { [v[0], v[1]] })
        };
        let (pool, strides) = if global { ([1, 1], [1, 1]) } else { (pair("pool_size")?, pair("strides")?) };
        Ok(PyLayer {
            inner: Arc::new(Pool {
                rank,
                kind,
                pool,
                strides,
                padding: padding_from(&name, config)?,
                channels_first: get(config, "channels_first", false)?,
                global,
                keepdims: get(config, "keepdims", false)?,
                name,
            }),
        })
    }

    /// ZeroPadding2D with [[top, bottom], [left, right]].
    #[staticmethod]
    fn zero_padding(name: String, padding: [[usize; 2]; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::ZeroPadding(padding), channels_first }) }
    }

    /// UpSampling2D (nearest) with [rows, columns].
    #[staticmethod]
    fn upsampling(name: String, size: [usize; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::UpSampling(size), channels_first }) }
    }

    /// Cropping2D with [[top, bottom], [left, right]].
    #[staticmethod]
    fn cropping(name: String, cropping: [[usize; 2]; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::Cropping(cropping), channels_first }) }
    }

    /// The identity plus an activity penalty `{"l1": .., "l2": ..}` on its input.
    #[staticmethod]
    fn activity_regularization(name: String, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let regularizer = Regularizer { l1: get(config, "l1", 0.0)?, l2: get(config, "l2", 0.0)? };
        Ok(PyLayer { inner: Arc::new(ActivityRegularization { name, regularizer }) })
    }

    /// Engine layers run in order, as one layer.
    #[staticmethod]
    fn sequence(name: String, layers: Vec<PyRef<'_, PyLayer>>) -> Self {
        PyLayer { inner: Arc::new(Sequence { name, layers: layers.iter().map(|l| l.inner.clone()).collect() }) }
    }

    /// Dropout, GaussianNoise or GaussianDropout (`kind`), active in training only.
    #[staticmethod]
    #[pyo3(signature = (name, kind, value, noise_shape = None, seed = None))]
    fn noise(name: String, kind: &str, value: f32, noise_shape: Option<Vec<Option<usize>>>, seed: Option<u64>) -> PyResult<Self> {
        let kind = match kind {
            "dropout" => NoiseKind::Dropout { rate: value },
            "gaussian_noise" => NoiseKind::GaussianNoise { stddev: value },
            "gaussian_dropout" => NoiseKind::GaussianDropout { rate: value },
            other => return Err(Error::value(&name, "dropout, gaussian_noise or gaussian_dropout", format!("'{other}'")).into()),
        };
        Ok(PyLayer { inner: Arc::new(Noise::new(name, kind, noise_shape, seed)) })
    }

    /// BatchNormalization over `axis` with its four weights (gamma/beta may be None).
    #[staticmethod]
    #[pyo3(signature = (name, axis, momentum, epsilon, gamma, beta, moving_mean, moving_variance, trainable, config))]
    #[allow(clippy::too_many_arguments)]
    fn batch_normalization(
        name: String,
        axis: isize,
        momentum: f32,
        epsilon: f32,
        gamma: Option<PyRef<'_, PyTensor>>,
        beta: Option<PyRef<'_, PyTensor>>,
        moving_mean: PyRef<'_, PyTensor>,
        moving_variance: PyRef<'_, PyTensor>,
        trainable: bool,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        Ok(PyLayer {
            inner: Arc::new(BatchNormalization {
                name,
                axis,
                momentum,
                epsilon,
                gamma: gamma.map(|g| g.inner.clone()),
                beta: beta.map(|b| b.inner.clone()),
                moving_mean: moving_mean.inner.clone(),
                moving_variance: moving_variance.inner.clone(),
                gamma_regularizer: regularizer(config, "gamma_regularizer")?,
                beta_regularizer: regularizer(config, "beta_regularizer")?,
                trainable: AtomicBool::new(trainable),
            }),
        })
    }

    /// LayerNormalization over the last axis.
    #[staticmethod]
    #[pyo3(signature = (name, epsilon, gamma, beta, config))]
    fn layer_normalization(name: String, epsilon: f32, gamma: Option<PyRef<'_, PyTensor>>, beta: Option<PyRef<'_, PyTensor>>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(PyLayer {
            inner: Arc::new(LayerNormalization {
                name,
                epsilon,
                gamma: gamma.map(|g| g.inner.clone()),
                beta: beta.map(|b| b.inner.clone()),
                gamma_regularizer: regularizer(config, "gamma_regularizer")?,
                beta_regularizer: regularizer(config, "beta_regularizer")?,
                trainable: AtomicBool::new(true),
            }),
        })
    }

    /// Reshape each sample to `target` (Flatten: `[-1]`).
    #[staticmethod]
    #[pyo3(signature = (name, target, channels_first = false))]
    fn reshape(name: String, target: Vec<isize>, channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Reshape { name, target, channels_first }) }
    }

    /// Tell the engine layer whether it is frozen (BatchNormalization then runs in inference mode).
    fn set_trainable(&self, trainable: bool) {
        self.inner.set_trainable(trainable);
    }

    /// An activation layer (`Activation`, `ReLU`, `LeakyReLU`, `ELU`, `Softmax`).
    #[staticmethod]
    fn activation(name: String, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let kind = match activation_from(activation, config, &name)? {
            Some(a) => ActivationKind::Elementwise(a),
            None => ActivationKind::Softmax { axis: get(config, "axis", -1)? },
        };
        Ok(PyLayer { inner: Arc::new(ActivationLayer { name, kind }) })
    }

    /// Run the layer on a tensor (records the tape when grad mode is on).
    #[pyo3(signature = (x, training = false, seed = 0))]
    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>, training: bool, seed: u64) -> PyResult<PyTensor> {
        let x = to_tensor(x, self.inner.name())?;
        let layer = self.inner.clone();
        Ok(PyTensor::wrap(detached(py, move || layer.forward(&x, &mut ForwardContext::new(training, &mut Rng::new(seed))))?))
    }
}

/// Optimizer state living in the engine; the Python optimizer classes configure it.
#[pyclass(name = "Optimizer", module = "ferronet._core", frozen)]
pub struct PyOptimizer {
    pub inner: Arc<Mutex<Optimizer>>,
}

#[pymethods]
impl PyOptimizer {
    #[new]
    #[pyo3(signature = (rule, learning_rate, config, weight_decay = None, clipnorm = None, clipvalue = None, global_clipnorm = None, schedule = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        rule: &str,
        learning_rate: f32,
        config: &Bound<'_, PyDict>,
        weight_decay: Option<f32>,
        clipnorm: Option<f32>,
        clipvalue: Option<f32>,
        global_clipnorm: Option<f32>,
        schedule: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let rule = match rule {
            "sgd" => Rule::Sgd { momentum: get(config, "momentum", 0.0)?, nesterov: get(config, "nesterov", false)? },
            "adam" | "adamw" => Rule::Adam {
                beta_1: get(config, "beta_1", 0.9)?,
                beta_2: get(config, "beta_2", 0.999)?,
                epsilon: get(config, "epsilon", 1e-7)?,
                amsgrad: get(config, "amsgrad", false)?,
            },
            "rmsprop" => Rule::RmsProp {
                rho: get(config, "rho", 0.9)?,
                momentum: get(config, "momentum", 0.0)?,
                epsilon: get(config, "epsilon", 1e-7)?,
                centered: get(config, "centered", false)?,
            },
            "adagrad" => Rule::Adagrad { initial_accumulator_value: get(config, "initial_accumulator_value", 0.1)?, epsilon: get(config, "epsilon", 1e-7)? },
            other => return Err(Error::value("optimizer", "one of sgd, adam, adamw, rmsprop, adagrad", format!("'{other}'")).into()),
        };
        let clip = match (clipnorm, clipvalue, global_clipnorm) {
            (None, None, None) => Clip::None,
            (Some(c), None, None) => Clip::Norm(c),
            (None, Some(c), None) => Clip::Value(c),
            (None, None, Some(c)) => Clip::GlobalNorm(c),
            _ => return Err(Error::value("optimizer", "only one of clipnorm, clipvalue and global_clipnorm", "several").into()),
        };
        let mut optimizer = Optimizer::new(rule, learning_rate, weight_decay.unwrap_or(0.0), clip);
        optimizer.schedule = match schedule {
            Some(spec) if !spec.is_none() => Some(schedule_from(spec)?),
            _ => None,
        };
        Ok(PyOptimizer { inner: Arc::new(Mutex::new(optimizer)) })
    }

    /// The rate the next step uses (the schedule's value at `iterations` when there is one).
    #[getter]
    fn learning_rate(&self) -> f32 {
        let opt = self.inner.lock();
        match &opt.schedule {
            Some(s) => s.at(opt.iterations),
            None => opt.learning_rate,
        }
    }

    /// Set a constant rate (this replaces a schedule, as assigning a float does in Keras).
    #[setter]
    fn set_learning_rate(&self, value: f32) {
        let mut opt = self.inner.lock();
        opt.schedule = None;
        opt.learning_rate = value;
    }

    #[getter]
    fn iterations(&self) -> u64 {
        self.inner.lock().iterations
    }

    #[setter]
    fn set_iterations(&self, value: u64) {
        self.inner.lock().iterations = value;
    }

    /// Number of state values (what Keras's summary lists as optimizer params).
    fn variable_count(&self) -> usize {
        self.inner.lock().variable_count()
    }

    /// Exclude these weights from weight decay.
    fn exclude_from_weight_decay(&self, weights: Vec<PyRef<'_, PyTensor>>) {
        let mut opt = self.inner.lock();
        opt.no_decay.extend(weights.iter().map(|w| w.inner.id()));
    }

    /// One update of `weights` from their `.grad` (Python-side custom loops).
    fn apply_gradients(&self, py: Python<'_>, weights: Vec<PyRef<'_, PyTensor>>, grads: Vec<PyRef<'_, PyTensor>>) -> PyResult<()> {
        let pairs: Vec<(Tensor, Tensor)> = weights.iter().zip(grads.iter()).map(|(w, g)| (w.inner.clone(), g.inner.clone())).collect();
        let inner = self.inner.clone();
        detached(py, move || inner.lock().apply(&pairs))
    }
}

/// A learning-rate schedule from its Python `_engine_spec()` dict.
fn schedule_from(spec: &Bound<'_, PyDict>) -> PyResult<Schedule> {
    let kind: String = get(spec, "kind", String::new())?;
    let initial: f64 = get(spec, "initial_learning_rate", 0.0)?;
    let decay_steps: f64 = get(spec, "decay_steps", 1.0)?;
    if decay_steps <= 0.0 && kind != "piecewise_constant_decay" {
        return Err(Error::value("schedule", "decay_steps > 0", format!("{decay_steps}")).into());
    }
    Ok(match kind.as_str() {
        "exponential_decay" => Schedule::ExponentialDecay { initial, decay_steps, decay_rate: get(spec, "decay_rate", 1.0)?, staircase: get(spec, "staircase", false)? },
        "inverse_time_decay" => Schedule::InverseTimeDecay { initial, decay_steps, decay_rate: get(spec, "decay_rate", 1.0)?, staircase: get(spec, "staircase", false)? },
        "piecewise_constant_decay" => {
            let boundaries: Vec<f64> = get(spec, "boundaries", Vec::new())?;
            let values: Vec<f64> = get(spec, "values", Vec::new())?;
            if values.len() != boundaries.len() + 1 {
                return Err(Error::value("PiecewiseConstantDecay", "one more value than boundaries", format!("{} boundaries and {} values", boundaries.len(), values.len())).into());
            }
            Schedule::PiecewiseConstantDecay { boundaries, values }
        }
        "polynomial_decay" => Schedule::PolynomialDecay {
            initial,
            decay_steps,
            end: get(spec, "end_learning_rate", 0.0001)?,
            power: get(spec, "power", 1.0)?,
            cycle: get(spec, "cycle", false)?,
        },
        "cosine_decay" => Schedule::CosineDecay {
            initial,
            decay_steps,
            alpha: get(spec, "alpha", 0.0)?,
            warmup_target: get(spec, "warmup_target", initial)?,
            warmup_steps: get(spec, "warmup_steps", 0.0)?,
        },
        other => return Err(Error::value("schedule", "a known learning-rate schedule", format!("'{other}'")).into()),
    })
}

/// Calls back into Python between batches, and checks for Ctrl-C.
struct PyHook {
    callback: Option<Py<PyAny>>,
    every_batch: bool,
    last_call: Instant,
    error: Option<PyErr>,
}

const REFRESH: Duration = Duration::from_millis(50);

impl Hook for PyHook {
    fn batch_end(&mut self, step: usize, logs: &Logs, last: bool) -> Result<bool> {
        if !(self.every_batch || last || self.last_call.elapsed() >= REFRESH) {
            return Ok(false);
        }
        self.last_call = Instant::now();
        let outcome = Python::attach(|py| -> PyResult<bool> {
            py.check_signals()?;
            match &self.callback {
                Some(cb) => {
                    let dict = logs_dict(py, logs)?;
                    cb.call1(py, (step, dict))?.is_truthy(py)
                }
                None => Ok(false),
            }
        });
        match outcome {
            Ok(stop) => Ok(stop),
            Err(e) => {
                self.error = Some(e);
                Err(Error::Interrupted)
            }
        }
    }
}

fn logs_dict<'py>(py: Python<'py>, logs: &Logs) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in logs {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// A Sequential model in the engine, with its compile state.
#[pyclass(name = "Model", module = "ferronet._core", frozen)]
pub struct PyModel {
    sequential: Sequential,
    compiled: Mutex<Option<Compiled>>,
}

fn loss_from(spec: &Bound<'_, PyDict>) -> PyResult<LossKind> {
    let kind: String = get(spec, "kind", String::new())?;
    let from_logits: bool = get(spec, "from_logits", false)?;
    let label_smoothing: f32 = get(spec, "label_smoothing", 0.0)?;
    Ok(match kind.as_str() {
        "mean_squared_error" => LossKind::MeanSquaredError,
        "mean_absolute_error" => LossKind::MeanAbsoluteError,
        "huber" => LossKind::Huber { delta: get(spec, "delta", 1.0)? },
        "binary_crossentropy" => LossKind::BinaryCrossentropy { from_logits, label_smoothing },
        "categorical_crossentropy" => LossKind::CategoricalCrossentropy { from_logits, label_smoothing },
        "sparse_categorical_crossentropy" => LossKind::SparseCategoricalCrossentropy { from_logits },
        other => return Err(Error::value("compile", "a known loss", format!("'{other}'")).into()),
    })
}

fn metric_from(name: String, kind: &str, spec: &Bound<'_, PyDict>) -> PyResult<Metric> {
    let kind = match kind {
        "binary_accuracy" => MetricKind::BinaryAccuracy { threshold: get(spec, "threshold", 0.5)? },
        "categorical_accuracy" => MetricKind::CategoricalAccuracy,
        "sparse_categorical_accuracy" => MetricKind::SparseCategoricalAccuracy,
        "top_k_categorical_accuracy" => MetricKind::TopKCategoricalAccuracy { k: get(spec, "k", 5)? },
        "sparse_top_k_categorical_accuracy" => MetricKind::SparseTopKCategoricalAccuracy { k: get(spec, "k", 5)? },
        "mean_squared_error" => MetricKind::MeanSquaredError,
        "mean_absolute_error" => MetricKind::MeanAbsoluteError,
        other => return Err(Error::value("compile", "a known metric", format!("'{other}'")).into()),
    };
    Ok(Metric::new(name, kind))
}

/// Borrow an array-like as float32 values plus shape (zero-copy when already float32 C-order).
struct Samples {
    _array: Py<PyAny>,
    ptr: *const f32,
    len: usize,
    shape: Vec<usize>,
}

// SAFETY: the array object is kept alive by `_array` and not mutated by the engine; the pointer is
// only read while the loop runs.
unsafe impl Send for Samples {}
unsafe impl Sync for Samples {}

impl Samples {
    fn new(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        let array = as_float32_array(value, what)?;
        let shape = array.shape().to_vec();
        let len = array.len();
        let ptr = if len == 0 { std::ptr::NonNull::<f32>::dangling().as_ptr() as *const f32 } else { array.data() as *const f32 };
        Ok(Samples { _array: array.into_any().unbind(), ptr, len, shape })
    }

    fn dataset<'a>(&'a self, y: &'a Samples, w: Option<&'a Samples>) -> Result<Dataset<'a>> {
        Dataset::new(self.values(), &self.shape, y.values(), &y.shape, w.map(|w| w.values()))
    }

    /// Inputs, targets and optional per-sample weights of a loop.
    fn triple(x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>, w: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<(Self, Self, Option<Self>)> {
        let weights = match w {
            Some(w) if !w.is_none() => Some(Samples::new(w, what)?),
            _ => None,
        };
        Ok((Samples::new(x, what)?, Samples::new(y, what)?, weights))
    }

    fn values(&self) -> &[f32] {
        // SAFETY: see the Send impl.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl PyModel {
    fn with_compiled<T>(&self, f: impl FnOnce(&mut Compiled) -> Result<T>) -> Result<T> {
        let mut guard = self.compiled.lock();
        match guard.as_mut() {
            Some(c) => f(c),
            None => Err(Error::value("fit", "a compiled model", "compile() was not called")),
        }
    }
}

fn hook(callback: Option<Py<PyAny>>, every_batch: bool) -> PyHook {
    PyHook { callback, every_batch, last_call: Instant::now(), error: None }
}

/// Turn a loop result into Python: a stored Python error wins (Ctrl-C, an exception in a callback).
fn finish<T>(result: Result<T>, hook: PyHook) -> PyResult<T> {
    match (result, hook.error) {
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e.into()),
        (Ok(v), _) => Ok(v),
    }
}

#[pymethods]
impl PyModel {
    #[new]
    fn new(layers: Vec<PyRef<'_, PyLayer>>) -> Self {
        PyModel { sequential: Sequential { layers: layers.iter().map(|l| l.inner.clone()).collect() }, compiled: Mutex::new(None) }
    }

    /// Set loss, metrics (`[(log name, kind, config)]`) and optimizer.
    fn compile(&self, loss: &Bound<'_, PyDict>, metrics: Vec<(String, String, Bound<'_, PyDict>)>, optimizer: PyRef<'_, PyOptimizer>) -> PyResult<()> {
        let loss = loss_from(loss)?;
        let metrics = metrics.into_iter().map(|(name, kind, spec)| metric_from(name, &kind, &spec)).collect::<PyResult<Vec<_>>>()?;
        *self.compiled.lock() = Some(Compiled { loss, metrics, optimizer: optimizer.inner.clone() });
        Ok(())
    }

    /// Run the model on `x` (records the tape when grad mode is on and a weight requires grad).
    #[pyo3(signature = (x, training = false, seed = 0))]
    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>, training: bool, seed: u64) -> PyResult<PyTensor> {
        let x = to_tensor(x, "model")?;
        Ok(PyTensor::wrap(detached(py, || self.sequential.forward(&x, &mut ForwardContext::new(training, &mut Rng::new(seed))))?))
    }

    /// One training epoch; returns the epoch's logs. `callback(step, logs)` returning True stops.
    #[pyo3(signature = (x, y, sample_weight, batch_size, shuffle, seed, callback = None, every_batch = false))]
    #[allow(clippy::too_many_arguments)]
    fn fit_epoch<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        callback: Option<Py<PyAny>>,
        every_batch: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (xs, ys, ws) = Samples::triple(x, y, sample_weight, "fit")?;
        let mut h = hook(callback, every_batch);
        let result = py.detach(|| {
            let data = xs.dataset(&ys, ws.as_ref())?;
            let mut rng = Rng::new(seed);
            self.with_compiled(|c| c.fit_epoch(&self.sequential, &data, batch_size, shuffle, &mut rng, &mut h))
        });
        let logs = finish(result, h)?;
        logs_dict(py, &logs)
    }

    /// Loss and metrics over a dataset in inference mode.
    #[pyo3(signature = (x, y, sample_weight, batch_size, callback = None, every_batch = false))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
        batch_size: usize,
        callback: Option<Py<PyAny>>,
        every_batch: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (xs, ys, ws) = Samples::triple(x, y, sample_weight, "evaluate")?;
        let mut h = hook(callback, every_batch);
        let result = py.detach(|| {
            let data = xs.dataset(&ys, ws.as_ref())?;
            self.with_compiled(|c| c.evaluate(&self.sequential, &data, batch_size, &mut Rng::new(0), &mut h))
        });
        let logs = finish(result, h)?;
        logs_dict(py, &logs)
    }

    /// `train_on_batch` / `test_on_batch`: one step on the whole input, metrics reset first.
    #[pyo3(signature = (x, y, sample_weight, train, seed))]
    fn on_batch<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, y: &Bound<'py, PyAny>, sample_weight: Option<&Bound<'py, PyAny>>, train: bool, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let (xs, ys, ws) = Samples::triple(x, y, sample_weight, "on_batch")?;
        let logs = py.detach(|| {
            let data = xs.dataset(&ys, ws.as_ref())?;
            self.with_compiled(|c| c.single_batch(&self.sequential, &data, train, &mut Rng::new(seed)))
        })?;
        logs_dict(py, &logs)
    }

    /// Predictions as a NumPy array.
    #[pyo3(signature = (x, batch_size, callback = None))]
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, batch_size: usize, callback: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let xs = Samples::new(x, "predict")?;
        let mut h = hook(callback, false);
        let result = py.detach(|| model::predict(&self.sequential, xs.values(), &xs.shape, batch_size, &mut Rng::new(0), &mut h));
        let (values, shape) = finish(result, h)?;
        Ok(PyArray1::from_vec(py, values).reshape(shape)?.into_any())
    }
}

/// Overwrite a tensor's values in place (e.g. `set_weights`), checking the shape.
#[pyfunction]
fn assign(tensor: PyRef<'_, PyTensor>, values: &Bound<'_, PyAny>) -> PyResult<()> {
    let array = as_float32_array(values, "assign")?;
    if array.shape() != tensor.inner.shape() {
        return Err(Error::shape(
            "set_weights",
            format!("an array of shape {}", crate::tensor::shape::fmt_shape(tensor.inner.shape())),
            crate::tensor::shape::fmt_shape(array.shape()),
        )
        .into());
    }
    let readonly = array.readonly();
    tensor.inner.assign(readonly.as_slice()?)?;
    Ok(())
}

#[pyfunction]
fn to_numpy<'py>(py: Python<'py>, tensor: PyRef<'_, PyTensor>) -> PyResult<Bound<'py, PyAny>> {
    Ok(tensor_to_numpy(py, &tensor.inner)?.into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLayer>()?;
    m.add_class::<PyOptimizer>()?;
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(assign, m)?)?;
    m.add_function(wrap_pyfunction!(to_numpy, m)?)?;
    Ok(())
}

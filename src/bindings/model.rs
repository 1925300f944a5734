//! `_core.Model`: what the Python `Sequential` drives. Loops run with the GIL released; the
//! Python hook is re-entered between batches only when a callback wants every batch, when the
//! progress bar is due (every 50 ms), or to check signals.

use super::convert::{as_float32_array, tensor_to_numpy, to_tensor};
use super::layer::{get, PyLayer};
use super::optimizer::PyOptimizer;
use super::tensor::{detached, PyTensor};
use crate::error::{Error, Result};
use crate::nn::layers::ForwardContext;
use crate::nn::grad_norms::GradNorms;
use crate::nn::loss::LossKind;
use crate::nn::metrics::{Metric, MetricKind};
use crate::nn::model::{self, Compiled, Dataset, Hook, Logs, Sequential};
use crate::nn::rng::Rng;
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Calls back into Python between batches, and checks for Ctrl-C.
struct PyHook {
    callback: Option<Py<PyAny>>,
    every_batch: bool,
    last_call: Instant,
    error: Option<PyErr>,
}

const REFRESH: Duration = Duration::from_millis(50);

impl Hook for PyHook {
    fn wants_logs(&mut self, _step: usize, last: bool) -> bool {
        self.callback.is_some() && (self.every_batch || last || self.last_call.elapsed() >= REFRESH)
    }

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
    /// Gradient norms while a GradientMonitor listens (outside `compiled`: read between batches).
    grad_norms: Arc<Mutex<GradNorms>>,
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
    pub(super) fn with_compiled<T>(&self, f: impl FnOnce(&mut Compiled) -> Result<T>) -> Result<T> {
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
        (Err(e), None) => Err(super::distribute::take_error().unwrap_or_else(|| e.into())),
        (Ok(v), _) => Ok(v),
    }
}

#[pymethods]
impl PyModel {
    #[new]
    fn new(layers: Vec<PyRef<'_, PyLayer>>) -> Self {
        PyModel { sequential: Sequential::new(layers.iter().map(|l| l.inner.clone()).collect()), compiled: Mutex::new(None), grad_norms: Arc::default() }
    }

    /// Set loss, metrics (`[(log name, kind, config)]`) and optimizer.
    fn compile(&self, loss: &Bound<'_, PyDict>, metrics: Vec<(String, String, Bound<'_, PyDict>)>, optimizer: PyRef<'_, PyOptimizer>) -> PyResult<()> {
        let loss = loss_from(loss)?;
        let metrics = metrics.into_iter().map(|(name, kind, spec)| metric_from(name, &kind, &spec)).collect::<PyResult<Vec<_>>>()?;
        *self.compiled.lock() = Some(Compiled::new(loss, metrics, optimizer.inner.clone()));
        Ok(())
    }

    /// Record each training step's per-weight gradient norms (on) or stop (off).
    fn track_gradient_norms(&self, on: bool) -> PyResult<()> {
        let shared = on.then(|| self.grad_norms.clone());
        Ok(self.with_compiled(|c| {
            c.grad_norms = shared;
            Ok(())
        })?)
    }

    /// The mean gradient norm of each trainable weight (model order) over the steps since the
    /// last call, and how many steps that was; resets the running sums.
    fn take_gradient_norms(&self) -> (Vec<f64>, usize) {
        self.grad_norms.lock().take()
    }

    /// Run the model on `x` (records the tape when grad mode is on and a weight requires grad).
    #[pyo3(signature = (x, training = false, seed = 0))]
    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>, training: bool, seed: u64) -> PyResult<PyTensor> {
        let x = to_tensor(x, "model")?;
        Ok(PyTensor::wrap(detached(py, || {
            // A host input stays there when the first layer reads it on the host anyway.
            let keep = x.device() == crate::tensor::Device::Cpu && self.sequential.input_device() == crate::tensor::Device::Cpu;
            let x = if keep { x } else { x.to_device(self.sequential.device())? };
            self.sequential.forward(&x, &mut ForwardContext::new(training, &mut Rng::new(seed)))
        })?))
    }

    /// Where batches go (`"cpu"` or `"gpu"`); the Python model moves the weights there first.
    fn set_device(&self, device: &str) -> PyResult<()> {
        *self.sequential.device.lock() = crate::tensor::Device::parse(device)?;
        Ok(())
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
        })
        .map_err(|e| super::distribute::take_error().unwrap_or_else(|| e.into()))?;
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

/// The flat index of the first NaN or infinite value of `values` (any float32 array), or None:
/// the finiteness check of `fit` / `predict` inputs, without NumPy's boolean temporary.
#[pyfunction]
fn first_nonfinite(values: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    let array = as_float32_array(values, "first_nonfinite")?;
    let readonly = array.readonly();
    let values = readonly.as_slice()?;
    // Whole chunks with a branch-free test (vectorised), then the position in the first bad one.
    const CHUNK: usize = 1024;
    for (i, chunk) in values.chunks(CHUNK).enumerate() {
        if !chunk.iter().fold(true, |ok, v| ok & v.is_finite()) {
            return Ok(chunk.iter().position(|v| !v.is_finite()).map(|j| i * CHUNK + j));
        }
    }
    Ok(None)
}

#[pyfunction]
fn to_numpy<'py>(py: Python<'py>, tensor: PyRef<'_, PyTensor>) -> PyResult<Bound<'py, PyAny>> {
    Ok(tensor_to_numpy(py, &tensor.inner)?.into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(assign, m)?)?;
    m.add_function(wrap_pyfunction!(to_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(first_nonfinite, m)?)?;
    Ok(())
}
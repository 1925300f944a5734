//! `_core.Optimizer`: optimizer state in the engine, configured by the Python optimizer classes.

use super::convert::as_float32_array;
use super::layer::get;
use super::tensor::{detached, PyTensor};
use crate::error::Error;
use crate::nn::optimizer::{Clip, Optimizer, Rule};
use crate::nn::schedule::Schedule;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

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

    /// Each weight's state arrays (flat float32, in the rule's slot order), or None for a weight
    /// the optimizer has not updated yet. For saving.
    fn get_slots<'py>(&self, py: Python<'py>, weights: Vec<PyRef<'py, PyTensor>>) -> PyResult<Vec<Option<Vec<Bound<'py, PyArray1<f32>>>>>> {
        let opt = self.inner.lock();
        let mut out = Vec::with_capacity(weights.len());
        for w in &weights {
            out.push(opt.slots_of(&w.inner)?.map(|slots| slots.iter().map(|s| PyArray1::from_slice(py, s)).collect()));
        }
        Ok(out)
    }

    /// Restore one weight's state arrays (as `get_slots` gives them). Raises `FileFormatError`
    /// when their number or sizes do not fit the rule and the weight.
    fn set_slots(&self, weight: PyRef<'_, PyTensor>, slots: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let values = slots
            .iter()
            .map(|s| Ok(as_float32_array(s, "optimizer state")?.readonly().as_slice()?.to_vec()))
            .collect::<PyResult<Vec<Vec<f32>>>>()?;
        Ok(self.inner.lock().set_slots(&weight.inner, values)?)
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


pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOptimizer>()
}

//! `_core.RecurrentLayer`: SimpleRNN/LSTM/GRU and Bidirectional engine layers, with what a
//! plain `_core.Layer` lacks: calls with initial states that return the final states, and the
//! carried states of a stateful layer. `.layer()` is the same layer for a model's layer list.

use super::convert::to_tensor;
use super::layer::{activation_from, get, regularizer, PyLayer};
use super::tensor::{detached, PyTensor};
use crate::cpu::activation::Activation;
use crate::cpu::recurrent::Cell;
use crate::error::Error;
use crate::nn::layers::{Bidirectional, ForwardContext, Merge, Recurrent, RecurrentOptions, Weights};
use crate::nn::rng::Rng;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

enum Kind {
    Single(Arc<Recurrent>),
    Bi(Arc<Bidirectional>),
}

#[pyclass(name = "RecurrentLayer", module = "ferronet._core", frozen)]
pub struct PyRecurrent {
    kind: Kind,
}

/// An elementwise activation for a cell (softmax has no place in a gate).
fn cell_activation(cfg: &Bound<'_, PyDict>, key: &str, default: &str, who: &str) -> PyResult<Activation> {
    let name: String = get(cfg, key, default.to_string())?;
    activation_from(&name, cfg, who)?.ok_or_else(|| Error::value(who, format!("an elementwise {key}"), "'softmax'").into())
}

fn tensors(values: Vec<crate::tensor::Tensor>) -> Vec<PyTensor> {
    values.into_iter().map(PyTensor::wrap).collect()
}

#[pymethods]
impl PyRecurrent {
    /// A SimpleRNN ("simple_rnn"), LSTM ("lstm") or GRU ("gru") layer; `config` holds the
    /// activations, RNN options, regularizers and seed (see layers/recurrent.py).
    #[staticmethod]
    #[pyo3(signature = (name, cell, kernel, recurrent_kernel, bias, config))]
    fn rnn(name: String, cell: &str, kernel: &Bound<'_, PyAny>, recurrent_kernel: &Bound<'_, PyAny>, bias: Option<&Bound<'_, PyAny>>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let activation = cell_activation(config, "activation", "tanh", &name)?;
        let cell = match cell {
            "simple_rnn" => Cell::Simple { activation },
            "lstm" => Cell::Lstm { activation, recurrent_activation: cell_activation(config, "recurrent_activation", "sigmoid", &name)? },
            "gru" => Cell::Gru { activation, recurrent_activation: cell_activation(config, "recurrent_activation", "sigmoid", &name)?, reset_after: get(config, "reset_after", true)? },
            other => return Err(Error::value(&name, "cell 'simple_rnn', 'lstm' or 'gru'", format!("'{other}'")).into()),
        };
        let kernel = to_tensor(kernel, &name)?;
        let recurrent_kernel = to_tensor(recurrent_kernel, &name)?;
        let bias = match bias {
            Some(b) if !b.is_none() => Some(to_tensor(b, &name)?),
            _ => None,
        };
        let options = RecurrentOptions {
            return_sequences: get(config, "return_sequences", false)?,
            go_backwards: get(config, "go_backwards", false)?,
            stateful: get(config, "stateful", false)?,
            zero_output_for_mask: get(config, "zero_output_for_mask", false)?,
            dropout: get(config, "dropout", 0.0)?,
            recurrent_dropout: get(config, "recurrent_dropout", 0.0)?,
        };
        let weights = Weights::new(vec![
            (Some(kernel.clone()), regularizer(config, "kernel_regularizer")?),
            (Some(recurrent_kernel.clone()), regularizer(config, "recurrent_regularizer")?),
            (bias.clone(), regularizer(config, "bias_regularizer")?),
        ]);
        let activity = regularizer(config, "activity_regularizer")?;
        let seed: Option<u64> = get(config, "seed", None)?;
        Ok(PyRecurrent { kind: Kind::Single(Arc::new(Recurrent::new(name, cell, kernel, recurrent_kernel, bias, options, activity, weights, seed))) })
    }

    /// Bidirectional over two recurrent layers (the second reads backwards); `merge_mode`
    /// "concat", "sum", "mul", "ave" or None.
    #[staticmethod]
    #[pyo3(signature = (name, forward, backward, merge_mode))]
    fn bidirectional(name: String, forward: PyRef<'_, PyRecurrent>, backward: PyRef<'_, PyRecurrent>, merge_mode: Option<&str>) -> PyResult<Self> {
        let merge = match merge_mode {
            Some("concat") => Merge::Concat,
            Some("sum") => Merge::Sum,
            Some("mul") => Merge::Mul,
            Some("ave") => Merge::Ave,
            None => Merge::Separate,
            Some(other) => return Err(Error::value(&name, "merge_mode 'concat', 'sum', 'mul', 'ave' or None", format!("'{other}'")).into()),
        };
        let single = |l: &PyRecurrent| -> PyResult<Arc<Recurrent>> {
            match &l.kind {
                Kind::Single(r) => Ok(r.clone()),
                Kind::Bi(_) => Err(Error::value(&name, "a recurrent layer to wrap", "a Bidirectional layer").into()),
            }
        };
        Ok(PyRecurrent { kind: Kind::Bi(Arc::new(Bidirectional { forward: single(&forward)?, backward: single(&backward)?, merge, name })) })
    }

    /// The same layer as a `_core.Layer`, for a model.
    fn layer(&self) -> PyLayer {
        match &self.kind {
            Kind::Single(r) => PyLayer { inner: r.clone() },
            Kind::Bi(b) => PyLayer { inner: b.clone() },
        }
    }

    /// Run on `x` (B, T, F) with optional initial states and timestep mask (B, T): returns the
    /// outputs (one, or two for an unmerged Bidirectional) and the final states.
    #[pyo3(signature = (x, initial_state = None, mask = None, training = false, seed = 0))]
    fn run(&self, py: Python<'_>, x: &Bound<'_, PyAny>, initial_state: Option<Vec<Bound<'_, PyAny>>>, mask: Option<&Bound<'_, PyAny>>, training: bool, seed: u64) -> PyResult<(Vec<PyTensor>, Vec<PyTensor>)> {
        let name = match &self.kind {
            Kind::Single(r) => r.name.clone(),
            Kind::Bi(b) => b.name.clone(),
        };
        let x = to_tensor(x, &name)?;
        let initial = initial_state.map(|states| states.iter().map(|s| to_tensor(s, &name)).collect::<PyResult<Vec<_>>>()).transpose()?;
        let mask = mask.filter(|m| !m.is_none()).map(|m| to_tensor(m, &name)).transpose()?;
        let (outputs, states) = detached(py, || {
            let mut rng = Rng::new(seed);
            let mut ctx = ForwardContext::new(training, &mut rng);
            ctx.mask = mask;
            match &self.kind {
                Kind::Single(r) => r.run(&x, &mut ctx, initial).map(|(y, s)| (vec![y], s)),
                Kind::Bi(b) => b.run(&x, &mut ctx, initial),
            }
        })?;
        Ok((tensors(outputs), tensors(states)))
    }

    /// Forget a stateful layer's carried states.
    fn reset_states(&self) {
        match &self.kind {
            Kind::Single(r) => r.reset_states(),
            Kind::Bi(b) => {
                b.forward.reset_states();
                b.backward.reset_states();
            }
        }
    }

    /// A stateful layer's carried states (None before its first batch or after a reset).
    fn states(&self) -> Option<Vec<PyTensor>> {
        match &self.kind {
            Kind::Single(r) => r.carried_states().map(tensors),
            Kind::Bi(b) => {
                let mut all = b.forward.carried_states()?;
                all.extend(b.backward.carried_states()?);
                Some(tensors(all))
            }
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecurrent>()
}

//! SimpleRNN, LSTM and GRU as layers: dropout masks, initial and carried (stateful) states,
//! the timestep mask, and the outputs Keras returns, around the one-node recurrent op.

use super::weights::Weights;
use super::{ForwardContext, Layer};
use crate::cpu::recurrent::Cell;
use crate::error::{Error, Result};
use crate::nn::regularizer::Regularizer;
use crate::nn::rng::Rng;
use crate::ops::recurrent::{recurrent, RecurrentInputs};
use crate::ops::{self, SliceSpec};
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};
use parking_lot::Mutex;

/// The RNN options Keras keeps on the layer (not the cell).
#[derive(Debug, Clone, Copy, Default)]
pub struct RecurrentOptions {
    pub return_sequences: bool,
    pub go_backwards: bool,
    pub stateful: bool,
    /// Masked timesteps output zeros instead of the previous output (Bidirectional sets it).
    pub zero_output_for_mask: bool,
    pub dropout: f32,
    pub recurrent_dropout: f32,
}

pub struct Recurrent {
    pub name: String,
    pub cell: Cell,
    pub kernel: Tensor,
    pub recurrent_kernel: Tensor,
    pub bias: Option<Tensor>,
    pub options: RecurrentOptions,
    pub activity_regularizer: Option<Regularizer>,
    /// kernel, recurrent kernel and bias with their regularizers.
    pub weights: Weights,
    seeded: Option<Mutex<Rng>>,
    /// The final states of the last batch, the next batch's initial states (stateful only).
    carried: Mutex<Option<Vec<Tensor>>>,
}

fn all(n: usize) -> SliceSpec {
    SliceSpec::Range { start: 0, step: 1, len: n }
}

fn cols(start: usize, len: usize) -> SliceSpec {
    SliceSpec::Range { start: start as isize, step: 1, len }
}

impl Recurrent {
    #[allow(clippy::too_many_arguments)]
    pub fn new(name: String, cell: Cell, kernel: Tensor, recurrent_kernel: Tensor, bias: Option<Tensor>, options: RecurrentOptions, activity_regularizer: Option<Regularizer>, weights: Weights, seed: Option<u64>) -> Self {
        Recurrent { name, cell, kernel, recurrent_kernel, bias, options, activity_regularizer, weights, seeded: seed.map(|s| Mutex::new(Rng::new(s))), carried: Mutex::new(None) }
    }

    pub fn units(&self) -> usize {
        self.recurrent_kernel.shape()[0]
    }

    /// How many state tensors the cell has: `[h, c]` for an LSTM, `[h]` otherwise.
    pub fn state_count(&self) -> usize {
        if matches!(self.cell, Cell::Lstm { .. }) {
            2
        } else {
            1
        }
    }

    /// Forget the carried states (Keras `reset_states`): the next batch starts from zeros.
    pub fn reset_states(&self) {
        *self.carried.lock() = None;
    }

    /// The carried states, for `layer.states` in Python.
    pub fn carried_states(&self) -> Option<Vec<Tensor>> {
        self.carried.lock().clone()
    }

    /// Inverted-dropout keep mask of `shape`: 1/(1-rate) or 0, on `device` (the input's).
    fn dropout_mask(&self, rate: f32, shape: &[usize], rng: &mut Rng, device: Device) -> Result<Tensor> {
        let n = shape.iter().product();
        let keep = 1.0 / (1.0 - rate);
        let draw = |rng: &mut Rng| (0..n).map(|_| if rng.next_f32() >= rate { keep } else { 0.0 }).collect::<Vec<f32>>();
        let values = match &self.seeded {
            Some(own) => draw(&mut own.lock()),
            None => draw(rng),
        };
        Tensor::from_vec_on(values, shape, device)
    }

    /// The output Keras returns and the final states (`[h]` or `[h, c]`).
    pub fn run(&self, x: &Tensor, ctx: &mut ForwardContext<'_>, initial: Option<Vec<Tensor>>) -> Result<(Tensor, Vec<Tensor>)> {
        let features = self.kernel.shape()[0];
        if x.ndim() != 3 {
            return Err(Error::shape(&self.name, format!("a 3-D input (batch, timesteps, {features})"), format!("input of shape {}", fmt_shape(x.shape()))));
        }
        if x.shape()[2] != features {
            return Err(Error::shape(&self.name, format!("input with {features} features (batch, timesteps, {features})"), format!("input of shape {}", fmt_shape(x.shape()))));
        }
        let (batch, steps, units) = (x.shape()[0], x.shape()[1], self.units());
        let o = self.options;
        let x = if ctx.training && o.dropout > 0.0 {
            // One mask per sequence, reused at every timestep (Keras's DropoutRNNCell).
            ops::mul(x, &self.dropout_mask(o.dropout, &[batch, 1, features], ctx.rng, x.device())?)?
        } else {
            x.clone()
        };
        let rd = if ctx.training && o.recurrent_dropout > 0.0 { Some(self.dropout_mask(o.recurrent_dropout, &[batch, units], ctx.rng, x.device())?) } else { None };
        let initial = match initial {
            Some(states) => Some(states),
            None if o.stateful => self.carried.lock().clone(),
            None => None,
        };
        if let Some(states) = &initial {
            if states.len() != self.state_count() {
                return Err(Error::value(&self.name, format!("{} initial state tensors", self.state_count()), format!("{}", states.len())));
            }
            if states[0].shape() != [batch, units] && o.stateful {
                return Err(Error::shape(
                    &self.name,
                    format!("a batch of {} (stateful layers keep their batch size; call reset_states() to change it)", states[0].shape()[0]),
                    format!("input of shape {}", fmt_shape(x.shape())),
                ));
            }
        }
        let mask = ctx.mask.clone();
        if let Some(m) = &mask {
            if m.shape() != [batch, steps] {
                return Err(Error::shape(&self.name, format!("a mask of shape {}", fmt_shape(&[batch, steps])), fmt_shape(m.shape())));
            }
        }
        let seq = recurrent(
            &self.name,
            self.cell,
            RecurrentInputs {
                x: &x,
                kernel: &self.kernel,
                recurrent_kernel: &self.recurrent_kernel,
                bias: self.bias.as_ref(),
                h0: initial.as_ref().map(|s| &s[0]),
                c0: initial.as_ref().and_then(|s| s.get(1)),
                mask: mask.as_ref(),
                recurrent_dropout: rd.as_ref(),
            },
            o.go_backwards,
            !o.return_sequences,
        )?;
        let last = if o.return_sequences { ops::slice(&seq, &[all(batch), SliceSpec::Index(steps - 1)])? } else { seq.clone() };
        let states = if self.state_count() == 2 {
            vec![ops::slice(&last, &[all(batch), cols(0, units)])?, ops::slice(&last, &[all(batch), cols(units, units)])?]
        } else {
            vec![last]
        };
        // Keras's outputs at masked steps: zeros with `zero_output_for_mask`, else the previous
        // output, which is zeros until the first real step (the initial state is not an output).
        // Computed on the mask's device, so a GPU mask is never read back.
        let output_mask = mask.as_ref().map(|m| ops::recurrent::output_mask(m, o.go_backwards, o.zero_output_for_mask)?.to_device(x.device())).transpose()?;
        let output = if o.return_sequences {
            let h = if self.state_count() == 2 { ops::slice(&seq, &[all(batch), all(steps), cols(0, units)])? } else { seq };
            match output_mask {
                Some(om) => ops::mul(&h, &ops::reshape(&om, &[batch, steps, 1])?)?,
                None => h,
            }
        } else {
            match output_mask {
                Some(om) => ops::mul(&states[0], &ops::slice(&om, &[all(batch), cols(steps - 1, 1)])?)?,
                None => states[0].clone(),
            }
        };
        if o.stateful {
            *self.carried.lock() = Some(states.iter().map(|s| s.detach()).collect());
        }
        if let Some(reg) = &self.activity_regularizer {
            ctx.add_activity_penalty(reg, &output)?;
        }
        Ok((output, states))
    }
}

impl Layer for Recurrent {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        Ok(self.run(x, ctx, None)?.0)
    }

    fn compute_mask(&self, _x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(if self.options.return_sequences { mask.cloned() } else { None })
    }

    fn generators(&self) -> Vec<&Mutex<Rng>> {
        self.seeded.iter().collect()
    }

    crate::weights_in_field!();
}

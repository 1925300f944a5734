//! Bidirectional: one recurrent layer reads the sequence forwards, a second (go_backwards)
//! reads it backwards; their outputs, time-aligned, are merged.

use super::recurrent::Recurrent;
use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops::{self, SliceSpec};
use crate::tensor::Tensor;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Merge {
    Concat,
    Sum,
    Mul,
    Ave,
    /// Both outputs, unmerged (a direct layer call only: a Sequential needs one tensor).
    Separate,
}

pub struct Bidirectional {
    pub name: String,
    pub forward: Arc<Recurrent>,
    pub backward: Arc<Recurrent>,
    pub merge: Merge,
}

impl Bidirectional {
    /// The outputs (one merged, or two with `Merge::Separate`) and the states of both
    /// directions, forward first. `initial` splits the same way.
    pub fn run(&self, x: &Tensor, ctx: &mut ForwardContext<'_>, initial: Option<Vec<Tensor>>) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let n = self.forward.state_count();
        let (init_f, init_b) = match initial {
            Some(states) if states.len() == 2 * n => (Some(states[..n].to_vec()), Some(states[n..].to_vec())),
            Some(states) => return Err(Error::value(&self.name, format!("{} initial state tensors (forward then backward)", 2 * n), format!("{}", states.len()))),
            None => (None, None),
        };
        let mask = ctx.mask.clone();
        let (yf, mut states) = self.forward.run(x, ctx, init_f)?;
        ctx.mask = mask;
        let (mut yb, sb) = self.backward.run(x, ctx, init_b)?;
        states.extend(sb);
        if self.backward.options.return_sequences {
            // The backward layer's outputs run from the last timestep: flip them into place.
            let (batch, steps) = (yb.shape()[0], yb.shape()[1]);
            yb = ops::contiguous(&ops::slice(&yb, &[SliceSpec::Range { start: 0, step: 1, len: batch }, SliceSpec::Range { start: steps as isize - 1, step: -1, len: steps }])?)?;
        }
        let outputs = match self.merge {
            Merge::Concat => vec![ops::concat(&[&yf, &yb], -1)?],
            Merge::Sum => vec![ops::add(&yf, &yb)?],
            Merge::Mul => vec![ops::mul(&yf, &yb)?],
            Merge::Ave => vec![ops::mul(&ops::add(&yf, &yb)?, &Tensor::scalar(0.5))?],
            Merge::Separate => vec![yf, yb],
        };
        Ok((outputs, states))
    }
}

impl Layer for Bidirectional {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        if self.merge == Merge::Separate {
            return Err(Error::value(&self.name, "a merge_mode ('concat', 'sum', 'mul' or 'ave') inside a model", "merge_mode=None, which returns two outputs"));
        }
        Ok(self.run(x, ctx, None)?.0.remove(0))
    }

    fn compute_mask(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        self.forward.compute_mask(x, mask)
    }

    fn generators(&self) -> Vec<&parking_lot::Mutex<crate::nn::rng::Rng>> {
        let mut all = self.forward.generators();
        all.extend(self.backward.generators());
        all
    }

    fn trainable_weights(&self) -> Vec<Tensor> {
        let mut w = self.forward.trainable_weights();
        w.extend(self.backward.trainable_weights());
        w
    }

    fn penalty(&self) -> Result<Option<Tensor>> {
        match (self.forward.penalty()?, self.backward.penalty()?) {
            (Some(a), Some(b)) => Ok(Some(ops::add(&a, &b)?)),
            (a, b) => Ok(a.or(b)),
        }
    }

    fn set_trainable(&self, trainable: bool) {
        self.forward.set_trainable(trainable);
        self.backward.set_trainable(trainable);
    }
}

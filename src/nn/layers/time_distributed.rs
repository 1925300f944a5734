//! TimeDistributed: the same inner layer applied to every timestep, by folding the time axis
//! into the batch axis and back.

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct TimeDistributed {
    pub name: String,
    pub inner: Arc<dyn Layer>,
}

impl Layer for TimeDistributed {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        if x.ndim() < 3 {
            return Err(Error::shape(&self.name, "an input of rank 3 or more (batch, timesteps, ...)", fmt_shape(x.shape())));
        }
        let (batch, steps) = (x.shape()[0], x.shape()[1]);
        let mut folded = vec![batch * steps];
        folded.extend_from_slice(&x.shape()[2..]);
        let x = ops::reshape(&ops::contiguous(x)?, &folded)?;
        let mask = ctx.mask.take();
        let y = self.inner.forward(&x, ctx)?;
        ctx.mask = mask;
        let mut unfolded = vec![batch, steps];
        unfolded.extend_from_slice(&y.shape()[1..]);
        ops::reshape(&ops::contiguous(&y)?, &unfolded)
    }

    crate::passes_mask!();

    fn generators(&self) -> Vec<&parking_lot::Mutex<crate::nn::rng::Rng>> {
        self.inner.generators()
    }

    fn trainable_weights(&self) -> Vec<Tensor> {
        self.inner.trainable_weights()
    }

    fn penalty(&self) -> Result<Option<Tensor>> {
        self.inner.penalty()
    }

    fn set_trainable(&self, trainable: bool) {
        self.inner.set_trainable(trainable)
    }
}

//! Dense: `activation(x @ kernel + bias)` through the fused dense op.

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops::{self, DenseActivation};
use crate::tensor::shape::fmt_shape;
use crate::nn::regularizer::{total_penalty, Regularizer};
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Dense {
    pub name: String,
    pub kernel: Tensor,
    pub bias: Option<Tensor>,
    pub activation: DenseActivation,
    pub kernel_regularizer: Option<Regularizer>,
    pub bias_regularizer: Option<Regularizer>,
    pub activity_regularizer: Option<Regularizer>,
    /// Frozen layers add no weight penalty (Keras regularizes trainable weights only).
    pub trainable: AtomicBool,
}

impl Layer for Dense {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let n_in = self.kernel.shape()[0];
        if x.ndim() < 2 || x.shape()[x.ndim() - 1] != n_in {
            return Err(Error::shape(&self.name, format!("input with last axis {n_in}"), format!("shape {}", fmt_shape(x.shape()))));
        }
        let y = ops::dense(x, &self.kernel, self.bias.as_ref(), self.activation)?;
        if let Some(reg) = self.activity_regularizer {
            // Keras divides the activity penalty by the batch size.
            let batch = x.shape()[0].max(1) as f32;
            ctx.losses.push(ops::mul(&reg.penalty(&y)?, &Tensor::scalar(1.0 / batch))?);
        }
        Ok(y)
    }

    fn penalty(&self) -> Result<Option<Tensor>> {
        if !self.trainable.load(Ordering::Relaxed) {
            return Ok(None);
        }
        total_penalty(&[(self.kernel_regularizer, Some(&self.kernel)), (self.bias_regularizer, self.bias.as_ref())])
    }

    fn set_trainable(&self, trainable: bool) {
        self.trainable.store(trainable, Ordering::Relaxed);
    }

    fn trainable_weights(&self) -> Vec<Tensor> {
        let mut w = vec![self.kernel.clone()];
        w.extend(self.bias.clone());
        w
    }
}

//! Dense: `activation(x @ kernel + bias)` through the fused dense op.

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops::{self, DenseActivation};
use crate::tensor::shape::fmt_shape;
use super::weights::Weights;
use crate::nn::regularizer::Regularizer;
use crate::tensor::Tensor;

pub struct Dense {
    pub name: String,
    pub kernel: Tensor,
    pub bias: Option<Tensor>,
    pub activation: DenseActivation,
    pub activity_regularizer: Option<Regularizer>,
    /// kernel and bias with their regularizers.
    pub weights: Weights,
}

impl Layer for Dense {
    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let n_in = self.kernel.shape()[0];
        if x.ndim() < 2 || x.shape()[x.ndim() - 1] != n_in {
            return Err(Error::shape(&self.name, format!("input with last axis {n_in}"), format!("shape {}", fmt_shape(x.shape()))));
        }
        let y = ops::dense(x, &self.kernel, self.bias.as_ref(), self.activation)?;
        if let Some(reg) = &self.activity_regularizer {
            ctx.add_activity_penalty(reg, &y)?;
        }
        Ok(y)
    }

    crate::weights_in_field!();
}

//! Dense: `activation(x @ kernel + bias)` through the fused dense op.

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops::{self, DenseActivation};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

pub struct Dense {
    pub name: String,
    pub kernel: Tensor,
    pub bias: Option<Tensor>,
    pub activation: DenseActivation,
}

impl Layer for Dense {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let n_in = self.kernel.shape()[0];
        if x.ndim() < 2 || x.shape()[x.ndim() - 1] != n_in {
            return Err(Error::shape(&self.name, format!("input with last axis {n_in}"), format!("shape {}", fmt_shape(x.shape()))));
        }
        ops::dense(x, &self.kernel, self.bias.as_ref(), self.activation)
    }

    fn trainable_weights(&self) -> Vec<Tensor> {
        let mut w = vec![self.kernel.clone()];
        w.extend(self.bias.clone());
        w
    }
}

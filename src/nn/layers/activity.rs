//! ActivityRegularization: the identity, plus a penalty on its input added to the loss (divided
//! by the batch size, as Keras does). Also how an `activity_regularizer=` reaches layers that do
//! not apply one themselves.

use super::{ForwardContext, Layer};
use crate::error::Result;
use crate::nn::regularizer::Regularizer;
use crate::tensor::Tensor;

pub struct ActivityRegularization {
    pub name: String,
    pub regularizer: Regularizer,
}

impl Layer for ActivityRegularization {
    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        ctx.add_activity_penalty(&self.regularizer, x)?;
        Ok(x.clone())
    }
}

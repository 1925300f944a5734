//! The layers that start a sequence model and make its timestep mask: Embedding (with
//! `mask_zero`, index 0 is padding) and Masking (timesteps whose features all equal
//! `mask_value` are padding).

use super::weights::Weights;
use super::{ForwardContext, Layer};
use crate::error::Result;
use crate::nn::regularizer::Regularizer;
use crate::ops;
use crate::tensor::Tensor;

pub struct Embedding {
    pub name: String,
    pub embeddings: Tensor,
    pub mask_zero: bool,
    pub activity_regularizer: Option<Regularizer>,
    pub weights: Weights,
}

impl Layer for Embedding {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let y = ops::embedding::embedding(&self.name, x, &self.embeddings)?;
        if let Some(reg) = &self.activity_regularizer {
            ctx.add_activity_penalty(reg, &y)?;
        }
        Ok(y)
    }

    /// The indices are checked (and the mask made) on the host.
    fn reads_input_on_host(&self) -> bool {
        true
    }

    fn compute_mask(&self, x: &Tensor, _mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        if !self.mask_zero {
            return Ok(None);
        }
        let values: Vec<f32> = x.cpu_values().as_slice().iter().map(|&i| if i != 0.0 { 1.0 } else { 0.0 }).collect();
        Ok(Some(Tensor::from_vec(values, x.shape())?))
    }

    crate::weights_in_field!();
}

pub struct Masking {
    pub name: String,
    pub mask_value: f32,
}

impl Masking {
    /// 1.0 for each timestep with a feature different from `mask_value`, shape = x's minus
    /// the last axis, on x's device (the layer multiplies the input by it, and a GPU recurrent
    /// layer reads it there).
    fn keep(&self, x: &Tensor) -> Result<Tensor> {
        ops::recurrent::timestep_mask(&self.name, x, self.mask_value)
    }
}

impl Layer for Masking {
    fn name(&self) -> &str {
        &self.name
    }

    /// Masked timesteps come out as zeros (Keras multiplies by the mask).
    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let keep = self.keep(x)?;
        let mut shape = keep.shape().to_vec();
        shape.push(1);
        ops::mul(x, &ops::reshape(&keep, &shape)?)
    }

    fn compute_mask(&self, x: &Tensor, _mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(Some(self.keep(x)?))
    }
}

//! BatchNormalization and LayerNormalization layers.

use super::{ForwardContext, Layer};
use crate::error::Result;
use super::weights::Weights;
use crate::ops::norm;
use crate::tensor::Tensor;

/// Keras BatchNormalization: batch statistics (biased variance) in training, moving statistics in
/// inference and whenever the layer is frozen; moving = moving * momentum + batch * (1 - momentum).
pub struct BatchNormalization {
    pub name: String,
    pub axis: isize,
    pub momentum: f32,
    pub epsilon: f32,
    pub gamma: Option<Tensor>,
    pub beta: Option<Tensor>,
    pub moving_mean: Tensor,
    pub moving_variance: Tensor,
    /// gamma and beta with their regularizers; frozen also means inference mode.
    pub weights: Weights,
}

impl Layer for BatchNormalization {
    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let training = ctx.training && self.weights.is_trainable();
        let moving = if training { None } else { Some((&self.moving_mean, &self.moving_variance)) };
        let (y, stats) = norm::batch_norm(x, self.gamma.as_ref(), self.beta.as_ref(), moving, self.axis, self.epsilon)
            .map_err(|e| crate::nn::layers::rename(e, &self.name))?;
        if let Some(stats) = stats {
            let m = self.momentum;
            self.moving_mean.update_in_place(|v| v.iter_mut().zip(&stats.mean).for_each(|(v, s)| *v = *v * m + s * (1.0 - m)))?;
            self.moving_variance.update_in_place(|v| v.iter_mut().zip(&stats.variance).for_each(|(v, s)| *v = *v * m + s * (1.0 - m)))?;
        }
        Ok(y)
    }

    crate::weights_in_field!();
}

/// Keras LayerNormalization over the last axis.
pub struct LayerNormalization {
    pub name: String,
    pub epsilon: f32,
    pub gamma: Option<Tensor>,
    pub beta: Option<Tensor>,
    /// gamma and beta with their regularizers.
    pub weights: Weights,
}

impl Layer for LayerNormalization {
    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        norm::layer_norm(x, self.gamma.as_ref(), self.beta.as_ref(), self.epsilon).map_err(|e| crate::nn::layers::rename(e, &self.name))
    }

    crate::weights_in_field!();
}

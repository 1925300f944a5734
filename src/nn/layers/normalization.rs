//! BatchNormalization and LayerNormalization layers.

use super::{ForwardContext, Layer};
use crate::error::Result;
use super::weights::Weights;
use crate::gpu::kernels;
use crate::ops::norm;
use crate::tensor::{Device, Tensor};

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
            update_moving(&self.moving_mean, &stats.mean, self.momentum)?;
            update_moving(&self.moving_variance, &stats.variance, self.momentum)?;
        }
        Ok(y)
    }

    crate::weights_in_field!();
}

/// `moving = moving * momentum + batch * (1 - momentum)`, on the device the statistics live on:
/// on the GPU a kernel computes the new values and they replace the old buffer (no read-back).
fn update_moving(moving: &Tensor, batch: &Tensor, momentum: f32) -> Result<()> {
    if moving.device() == Device::Gpu {
        return moving.replace_with_gpu(kernels::moving_average("batch_normalization", moving, batch, momentum)?);
    }
    let batch = batch.try_cpu_values()?;
    moving.update_in_place(|v| v.iter_mut().zip(batch.as_slice()).for_each(|(v, s)| *v = *v * momentum + s * (1.0 - momentum)))
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

//! Layers as the training loop sees them: a forward pass on tensors (the tape records it), the
//! trainable weights, and a name for error messages. The Python layer objects own the config
//! and build the weights; these hold the same weight tensors (shared handles).

mod activation;
mod activity;
mod bidirectional;
mod conv;
mod dense;
mod embedding;
mod noise;
mod normalization;
mod pool;
mod recurrent;
mod reshape;
mod sequence;
mod spatial;
mod time_distributed;
mod weights;

pub use activation::{ActivationKind, ActivationLayer};
pub use activity::ActivityRegularization;
pub use bidirectional::{Bidirectional, Merge};
pub use dense::Dense;
pub use embedding::{Embedding, Masking};
pub use noise::{Noise, NoiseKind};
pub use normalization::{BatchNormalization, LayerNormalization};
pub use conv::{Conv, ConvKind};
pub use pool::Pool;
pub use recurrent::{Recurrent, RecurrentOptions};
pub use reshape::Reshape;
pub use sequence::Sequence;
pub use spatial::{Resize, Spatial};
pub use time_distributed::TimeDistributed;
pub use weights::Weights;

use super::regularizer::Regularizer;
use super::rng::Rng;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// What a forward pass needs beyond its input.
pub struct ForwardContext<'a> {
    /// True inside `fit`/`train_on_batch` (dropout active, batch statistics).
    pub training: bool,
    pub rng: &'a mut Rng,
    /// Losses layers add during the forward pass (activity regularization).
    pub losses: Vec<Tensor>,
    /// The timestep mask (batch, timesteps) of the current layer's input, 1.0 where a step is
    /// real: set by the model from the previous layer's `compute_mask` (Embedding with
    /// `mask_zero`, Masking), read by the recurrent layers.
    pub mask: Option<Tensor>,
}

impl<'a> ForwardContext<'a> {
    pub fn new(training: bool, rng: &'a mut Rng) -> Self {
        ForwardContext { training, rng, losses: Vec::new(), mask: None }
    }

    /// Add `regularizer`'s penalty on the activations `y` to the loss, divided by the batch size
    /// as Keras does.
    pub fn add_activity_penalty(&mut self, regularizer: &Regularizer, y: &Tensor) -> Result<()> {
        let batch = y.shape().first().copied().unwrap_or(1).max(1) as f32;
        self.losses.push(crate::ops::mul(&regularizer.penalty(y)?, &Tensor::scalar(1.0 / batch))?);
        Ok(())
    }
}

/// Re-label an op's error with the layer's name (`dense_1: expected ...`).
pub fn rename(err: Error, layer: &str) -> Error {
    match err {
        Error::Shape { expected, got, .. } => Error::Shape { op: layer.to_string(), expected, got },
        Error::Value { expected, got, .. } => Error::Value { op: layer.to_string(), expected, got },
        other => other,
    }
}

pub trait Layer: Send + Sync {
    /// The layer's name (`dense_1`), used in every error it raises.
    fn name(&self) -> &str;

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor>;

    /// Weights the optimizer updates, in Keras order.
    fn trainable_weights(&self) -> Vec<Tensor> {
        Vec::new()
    }

    /// The weight regularization penalty (added to the training loss), if any.
    fn penalty(&self) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// Freeze or unfreeze (layers whose behaviour depends on it, like BatchNormalization).
    fn set_trainable(&self, _trainable: bool) {}

    /// The mask of this layer's output, from its input `x` and the input's mask (Keras's
    /// `compute_mask`). The default drops the mask; layers Keras marks `supports_masking`
    /// pass it on.
    fn compute_mask(&self, _x: &Tensor, _mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The layer's own random generators (a seeded Dropout's), so a checkpoint can save their
    /// positions and a resumed run draw the same masks as an uninterrupted one.
    fn generators(&self) -> Vec<&parking_lot::Mutex<Rng>> {
        Vec::new()
    }

    /// Whether the layer reads its input's values on the host first (Embedding checks its indices
    /// and makes its mask there): as a model's first layer, it then gets its batches on the host,
    /// so that a GPU model does not wait to read them back each step.
    fn reads_input_on_host(&self) -> bool {
        false
    }

    /// The layer as a convolution, for the inference fusion of a convolution with the max
    /// pooling after it (`run_chain`).
    fn as_conv(&self) -> Option<&Conv> {
        None
    }

    /// The layer as a pooling layer (see `as_conv`).
    fn as_pool(&self) -> Option<&Pool> {
        None
    }
}

/// `layers[0]` then `layers[1]` as one fused op when that is exact: a convolution followed by
/// max pooling runs as `ops::conv::conv2d_max_pool`, which for inference never stores the
/// convolution's output and in training fuses the pooling's and the ReLU's backward (or runs
/// the two ops where it cannot). `None` when the pair does not fuse.
fn fused_pair(layers: &[std::sync::Arc<dyn Layer>], x: &Tensor) -> Result<Option<Tensor>> {
    if layers.len() < 2 {
        return Ok(None);
    }
    match (layers[0].as_conv(), layers[1].as_pool()) {
        (Some(conv), Some(pool)) => conv.forward_max_pooled(x, pool),
        _ => Ok(None),
    }
}

/// Run `layers` in order from `x`, handing each the mask the previous one computed; returns
/// the output and its mask.
pub fn run_chain(layers: &[std::sync::Arc<dyn Layer>], x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<(Tensor, Option<Tensor>)> {
    let mut h = x.clone();
    let mut mask = ctx.mask.take();
    let mut i = 0;
    while i < layers.len() {
        ctx.mask = mask;
        if let Some(y) = fused_pair(&layers[i..], &h)? {
            // Neither a convolution nor a pooling layer passes a mask on.
            (h, mask, i) = (y, None, i + 2);
            continue;
        }
        let layer = &layers[i];
        let y = layer.forward(&h, ctx)?;
        mask = layer.compute_mask(&h, ctx.mask.as_ref())?;
        h = y;
        i += 1;
    }
    ctx.mask = None;
    Ok((h, mask))
}

/// `trainable_weights`, `penalty` and `set_trainable` for a layer whose weights live in a
/// `weights: Weights` field.
#[macro_export]
macro_rules! weights_in_field {
    () => {
        fn trainable_weights(&self) -> Vec<$crate::tensor::Tensor> {
            self.weights.tensors()
        }

        fn penalty(&self) -> $crate::error::Result<Option<$crate::tensor::Tensor>> {
            self.weights.penalty()
        }

        fn set_trainable(&self, trainable: bool) {
            self.weights.set_trainable(trainable)
        }
    };
}

/// `compute_mask` for layers that keep the timestep structure (Dense, activations, dropout,
/// normalization): the input's mask, unchanged.
#[macro_export]
macro_rules! passes_mask {
    () => {
        fn compute_mask(&self, _x: &$crate::tensor::Tensor, mask: Option<&$crate::tensor::Tensor>) -> $crate::error::Result<Option<$crate::tensor::Tensor>> {
            Ok(mask.cloned())
        }
    };
}

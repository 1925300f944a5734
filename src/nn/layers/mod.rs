//! Layers as the training loop sees them: a forward pass on tensors (the tape records it), the
//! trainable weights, and a name for error messages. The Python layer objects own the config
//! and build the weights; these hold the same weight tensors (shared handles).

mod activation;
mod activity;
mod conv;
mod dense;
mod noise;
mod normalization;
mod pool;
mod reshape;
mod sequence;
mod spatial;
mod weights;

pub use activation::{ActivationKind, ActivationLayer};
pub use activity::ActivityRegularization;
pub use dense::Dense;
pub use noise::{Noise, NoiseKind};
pub use normalization::{BatchNormalization, LayerNormalization};
pub use conv::{Conv, ConvKind};
pub use pool::Pool;
pub use reshape::Reshape;
pub use sequence::Sequence;
pub use spatial::{Resize, Spatial};
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
}

impl<'a> ForwardContext<'a> {
    pub fn new(training: bool, rng: &'a mut Rng) -> Self {
        ForwardContext { training, rng, losses: Vec::new() }
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

    /// The layer's own random generators (a seeded Dropout's), so a checkpoint can save their
    /// positions and a resumed run draw the same masks as an uninterrupted one.
    fn generators(&self) -> Vec<&parking_lot::Mutex<Rng>> {
        Vec::new()
    }
}

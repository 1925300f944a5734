//! Layers as the training loop sees them: a forward pass on tensors (the tape records it), the
//! trainable weights, and a name for error messages. The Python layer objects own the config
//! and build the weights; these hold the same weight tensors (shared handles).

mod activation;
mod dense;

pub use activation::{ActivationKind, ActivationLayer};
pub use dense::Dense;

use super::rng::Rng;
use crate::error::Result;
use crate::tensor::Tensor;

/// What a forward pass needs beyond its input.
pub struct ForwardContext<'a> {
    /// True inside `fit`/`train_on_batch` (dropout active, batch statistics).
    pub training: bool,
    pub rng: &'a mut Rng,
}

pub trait Layer: Send + Sync {
    /// The layer's name (`dense_1`), used in every error it raises.
    fn name(&self) -> &str;

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor>;

    /// Weights the optimizer updates, in Keras order.
    fn trainable_weights(&self) -> Vec<Tensor> {
        Vec::new()
    }
}

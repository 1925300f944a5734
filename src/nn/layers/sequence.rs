//! A layer made of layers run in order (SeparableConv2D = depthwise then pointwise).

use super::{ForwardContext, Layer};
use crate::error::Result;
use crate::ops;
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct Sequence {
    pub name: String,
    pub layers: Vec<Arc<dyn Layer>>,
}

impl Layer for Sequence {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let (y, mask) = super::run_chain(&self.layers, x, ctx)?;
        // Hand the chain's output mask back for `compute_mask` below.
        ctx.mask = mask;
        Ok(y)
    }

    /// The mask the chain computed in `forward` (it left it in the context).
    fn compute_mask(&self, _x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(mask.cloned())
    }

    fn trainable_weights(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| l.trainable_weights()).collect()
    }

    fn penalty(&self) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        for layer in &self.layers {
            if let Some(p) = layer.penalty()? {
                total = Some(match total {
                    Some(t) => ops::add(&t, &p)?,
                    None => p,
                });
            }
        }
        Ok(total)
    }

    fn set_trainable(&self, trainable: bool) {
        self.layers.iter().for_each(|l| l.set_trainable(trainable));
    }

    fn generators(&self) -> Vec<&parking_lot::Mutex<crate::nn::rng::Rng>> {
        self.layers.iter().flat_map(|l| l.generators()).collect()
    }
}

//! Activation layers (Activation, ReLU, LeakyReLU, ELU, Softmax): no weights.

use super::{ForwardContext, Layer};
use crate::cpu::activation::Activation;
use crate::error::Result;
use crate::ops;
use crate::tensor::Tensor;

pub enum ActivationKind {
    Elementwise(Activation),
    Softmax { axis: isize },
}

pub struct ActivationLayer {
    pub name: String,
    pub kind: ActivationKind,
}

impl Layer for ActivationLayer {
    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        match self.kind {
            ActivationKind::Elementwise(Activation::Linear) => Ok(x.clone()),
            ActivationKind::Elementwise(a) => ops::activation(x, a),
            ActivationKind::Softmax { axis } => ops::softmax(x, axis),
        }
    }
}

//! Flatten and Reshape: a new shape for each sample (the batch axis is kept).

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

/// `target` is the per-sample shape (one entry may be -1); Flatten is `[-1]`. With
/// `channels_first`, Flatten moves channels last first, as Keras does.
pub struct Reshape {
    pub name: String,
    pub target: Vec<isize>,
    pub channels_first: bool,
}

impl Layer for Reshape {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        if x.ndim() < 1 {
            return Err(Error::shape(&self.name, "an input with a batch axis", fmt_shape(x.shape())));
        }
        let x = if self.channels_first && x.ndim() > 2 {
            let mut axes: Vec<usize> = vec![0];
            axes.extend(2..x.ndim());
            axes.push(1);
            ops::permute(x, &axes)?
        } else {
            x.clone()
        };
        let mut shape: Vec<isize> = vec![x.shape()[0] as isize];
        shape.extend_from_slice(&self.target);
        ops::shape::reshape_inferred(&x, &shape).map_err(|_| {
            Error::shape(&self.name, format!("an input whose samples reshape to {:?}", self.target), fmt_shape(x.shape()))
        })
    }
}

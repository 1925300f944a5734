//! Weight and activity penalties: `l1 * sum(|w|) + l2 * sum(w^2)` (Keras's L1, L2, L1L2; no 1/2).
//! Built from ops, so their gradients come from the tape.

use crate::error::Result;
use crate::ops;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    pub l1: f32,
    pub l2: f32,
}

impl Regularizer {
    /// The penalty of `w` as a scalar tensor.
    pub fn penalty(&self, w: &Tensor) -> Result<Tensor> {
        let mut total: Option<Tensor> = None;
        if self.l1 != 0.0 {
            let t = ops::mul(&ops::sum(&ops::abs(w)?, None, false)?, &Tensor::scalar(self.l1))?;
            total = Some(t);
        }
        if self.l2 != 0.0 {
            let t = ops::mul(&ops::sum(&ops::square(w)?, None, false)?, &Tensor::scalar(self.l2))?;
            total = Some(match total {
                Some(prev) => ops::add(&prev, &t)?,
                None => t,
            });
        }
        Ok(total.unwrap_or_else(|| Tensor::scalar(0.0)))
    }
}

/// Sum of `regularizer(weight)` over the pairs that have a regularizer.
pub fn total_penalty(pairs: &[(Option<Regularizer>, Option<&Tensor>)]) -> Result<Option<Tensor>> {
    let mut total: Option<Tensor> = None;
    for (reg, w) in pairs {
        if let (Some(reg), Some(w)) = (reg, w) {
            let p = reg.penalty(w)?;
            total = Some(match total {
                Some(prev) => ops::add(&prev, &p)?,
                None => p,
            });
        }
    }
    Ok(total)
}

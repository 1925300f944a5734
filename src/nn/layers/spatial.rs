//! ZeroPadding2D, UpSampling2D (nearest) and Cropping2D.

use super::conv::{check_input, from_nhwc, to_nhwc};
use super::{rename, ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::ops::spatial::{upsample_nearest2d, zero_pad2d};
use crate::ops::{self, SliceSpec};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// ((top, bottom), (left, right)) zeros added.
    ZeroPadding([[usize; 2]; 2]),
    /// (rows, columns) repeats.
    UpSampling([usize; 2]),
    /// ((top, bottom), (left, right)) pixels removed.
    Cropping([[usize; 2]; 2]),
}

pub struct Spatial {
    pub name: String,
    pub resize: Resize,
    pub channels_first: bool,
}

impl Layer for Spatial {
    fn name(&self) -> &str {
        &self.name
    }

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        check_input(&self.name, x, 2, self.channels_first, None)?;
        let x4 = to_nhwc(x, 2, self.channels_first)?;
        let y = match self.resize {
            Resize::ZeroPadding([[t, b], [l, r]]) => zero_pad2d(&x4, t, b, l, r),
            Resize::UpSampling([sh, sw]) => upsample_nearest2d(&x4, sh, sw),
            Resize::Cropping([[t, b], [l, r]]) => {
                let s = x4.shape();
                if t + b >= s[1] || l + r >= s[2] {
                    return Err(Error::shape(&self.name, format!("an input larger than the cropping (({t}, {b}), ({l}, {r}))"), format!("shape {}", fmt_shape(x.shape()))));
                }
                let specs = [
                    SliceSpec::Range { start: 0, step: 1, len: s[0] },
                    SliceSpec::Range { start: t as isize, step: 1, len: s[1] - t - b },
                    SliceSpec::Range { start: l as isize, step: 1, len: s[2] - l - r },
                ];
                ops::contiguous(&ops::slice(&x4, &specs)?)
            }
        }
        .map_err(|e| rename(e, &self.name))?;
        from_nhwc(&y, 2, self.channels_first)
    }
}

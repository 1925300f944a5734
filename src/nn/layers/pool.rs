//! Pooling layers: Max/Average pooling 1D/2D and their global forms.

use super::conv::{check_input, from_nhwc, to_nhwc};
use super::{rename, ForwardContext, Layer};
use crate::error::Result;
use crate::ops::conv::Padding;
use crate::ops::pool::{pool2d, PoolKind};
use crate::ops::{self};
use crate::tensor::Tensor;

pub struct Pool {
    pub name: String,
    pub rank: usize,
    pub kind: PoolKind,
    pub pool: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub channels_first: bool,
    /// Global pooling over every spatial axis (then `pool`, `strides`, `padding` are unused).
    pub global: bool,
    pub keepdims: bool,
}

impl Pool {
    /// Whether this is a 2-D, channels-last max pooling over windows (what
    /// `Conv::forward_max_pooled` fuses).
    pub(crate) fn is_plain_max_pool_2d(&self) -> bool {
        self.kind == PoolKind::Max && self.rank == 2 && !self.global && !self.channels_first
    }
}

impl Layer for Pool {
    fn name(&self) -> &str {
        &self.name
    }

    fn as_pool(&self) -> Option<&Pool> {
        Some(self)
    }

    fn forward(&self, x: &Tensor, _ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        check_input(&self.name, x, self.rank, self.channels_first, None)?;
        if self.global {
            let axes: Vec<isize> = if self.channels_first { (2..self.rank as isize + 2).collect() } else { (1..self.rank as isize + 1).collect() };
            return match self.kind {
                PoolKind::Max => ops::max(x, Some(&axes), self.keepdims),
                PoolKind::Average => ops::mean(x, Some(&axes), self.keepdims),
            };
        }
        let x4 = to_nhwc(x, self.rank, self.channels_first)?;
        let y = pool2d(&x4, self.kind, self.pool, self.strides, self.padding).map_err(|e| rename(e, &self.name))?;
        from_nhwc(&y, self.rank, self.channels_first)
    }
}

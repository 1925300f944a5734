//! Convolution layers (Conv1D, Conv2D, DepthwiseConv2D, Conv2DTranspose): Keras layouts in,
//! NHWC convolution ops inside. channels_first inputs are permuted to channels_last and back;
//! 1-D layers run as 2-D with height 1.

use super::{rename, ForwardContext, Layer};
use crate::error::{Error, Result};
use super::weights::Weights;
use crate::nn::regularizer::Regularizer;
use crate::ops::conv::{conv2d, conv2d_max_pool, conv2d_transpose, ConvSpec};
use crate::ops::{self, DenseActivation};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConvKind {
    /// Kernel (k..., in/groups, filters).
    Conv,
    /// Kernel (kh, kw, in, depth_multiplier): a grouped convolution with one group per channel.
    Depthwise,
    /// Kernel (kh, kw, filters, in).
    Transpose { output_padding: Option<[usize; 2]> },
}

pub struct Conv {
    pub name: String,
    pub rank: usize,
    pub kind: ConvKind,
    pub kernel: Tensor,
    pub bias: Option<Tensor>,
    pub spec: ConvSpec,
    pub channels_first: bool,
    pub activation: DenseActivation,
    pub activity_regularizer: Option<Regularizer>,
    /// kernel and bias with their regularizers.
    pub weights: Weights,
}

/// Move `x` (rank + 2 axes) to NHWC 4-D.
pub(crate) fn to_nhwc(x: &Tensor, rank: usize, channels_first: bool) -> Result<Tensor> {
    let x = if channels_first {
        let mut axes = vec![0];
        axes.extend(2..rank + 2);
        axes.push(1);
        ops::permute(x, &axes)?
    } else {
        x.clone()
    };
    if rank == 1 {
        let s = x.shape();
        ops::reshape(&x, &[s[0], 1, s[1], s[2]])
    } else {
        Ok(x)
    }
}

/// The inverse of `to_nhwc` for a result in NHWC.
pub(crate) fn from_nhwc(y: &Tensor, rank: usize, channels_first: bool) -> Result<Tensor> {
    let y = if rank == 1 {
        let s = y.shape();
        ops::reshape(y, &[s[0], s[2], s[3]])?
    } else {
        y.clone()
    };
    if channels_first {
        let mut axes = vec![0, rank + 1];
        axes.extend(1..rank + 1);
        ops::permute(&y, &axes)
    } else {
        Ok(y)
    }
}

/// Check the input rank (and, when known, the channel count) with Keras-style messages.
pub(crate) fn check_input(name: &str, x: &Tensor, rank: usize, channels_first: bool, channels: Option<usize>) -> Result<()> {
    let layout = match (rank, channels_first) {
        (1, false) => "(batch, steps, channels)",
        (1, true) => "(batch, channels, steps)",
        (_, false) => "(batch, height, width, channels)",
        (_, true) => "(batch, channels, height, width)",
    };
    if x.ndim() != rank + 2 {
        return Err(Error::shape(name, format!("input of rank {} {layout}", rank + 2), format!("shape {}", fmt_shape(x.shape()))));
    }
    if let Some(c) = channels {
        let got = x.shape()[if channels_first { 1 } else { rank + 1 }];
        if got != c {
            return Err(Error::shape(name, format!("input with {c} channels {layout}"), format!("shape {}", fmt_shape(x.shape()))));
        }
    }
    Ok(())
}

impl Conv {
    fn in_channels(&self) -> usize {
        let k = self.kernel.shape();
        match self.kind {
            ConvKind::Conv => k[k.len() - 2] * self.spec.groups,
            ConvKind::Depthwise => k[2],
            ConvKind::Transpose { .. } => k[k.len() - 1],
        }
    }

    /// The kernel as a 4-D NHWC-convolution kernel (a view).
    fn kernel4(&self) -> Result<Tensor> {
        let k = self.kernel.shape();
        match (self.kind, self.rank) {
            (ConvKind::Depthwise, _) => ops::reshape(&self.kernel, &[k[0], k[1], 1, k[2] * k[3]]),
            (_, 1) => ops::reshape(&self.kernel, &[1, k[0], k[1], k[2]]),
            _ => Ok(self.kernel.clone()),
        }
    }
}

impl Conv {
    /// This convolution and then `pool` in one op (`run_chain`; the op picks the inference or
    /// the training form). `None` when the pair does not fuse: a 2-D channels-last
    /// convolution (not depthwise, transposed or grouped) with an elementwise activation and no
    /// activity regularizer, then a 2-D channels-last max pooling. Errors name the layer whose
    /// input is wrong, as the unfused layers' do.
    pub(crate) fn forward_max_pooled(&self, x: &Tensor, pool: &super::Pool) -> Result<Option<Tensor>> {
        let DenseActivation::Elementwise(activation) = self.activation else { return Ok(None) };
        if self.kind != ConvKind::Conv || self.rank != 2 || self.channels_first || self.spec.groups != 1 || self.activity_regularizer.is_some() || !pool.is_plain_max_pool_2d() {
            return Ok(None);
        }
        check_input(&self.name, x, self.rank, self.channels_first, Some(self.in_channels()))?;
        let geo = crate::ops::conv::geometry(&self.name, x.shape(), self.kernel.shape(), &self.spec)?;
        crate::ops::pool::pool_geometry(&pool.name, &[geo.batch, geo.out_h, geo.out_w, geo.out_c], pool.pool, pool.strides, pool.padding)?;
        let y = conv2d_max_pool(x, &self.kernel, self.bias.as_ref(), &self.spec, activation, pool.pool, pool.strides, pool.padding).map_err(|e| rename(e, &self.name))?;
        Ok(Some(y))
    }
}

impl Layer for Conv {
    fn name(&self) -> &str {
        &self.name
    }

    fn as_conv(&self) -> Option<&Conv> {
        Some(self)
    }

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        check_input(&self.name, x, self.rank, self.channels_first, Some(self.in_channels()))?;
        let x4 = to_nhwc(x, self.rank, self.channels_first)?;
        let kernel = self.kernel4()?;
        let mut spec = self.spec;
        if self.rank == 1 {
            spec.strides = [1, spec.strides[1]];
            spec.dilation = [1, spec.dilation[1]];
        }
        let y = match self.kind {
            ConvKind::Conv => conv2d(&x4, &kernel, self.bias.as_ref(), &spec, self.activation),
            ConvKind::Depthwise => conv2d(&x4, &kernel, self.bias.as_ref(), &ConvSpec { groups: self.in_channels(), ..spec }, self.activation),
            ConvKind::Transpose { output_padding } => conv2d_transpose(&x4, &kernel, self.bias.as_ref(), &spec, output_padding, self.activation),
        }
        .map_err(|e| rename(e, &self.name))?;
        let y = from_nhwc(&y, self.rank, self.channels_first)?;
        if let Some(reg) = &self.activity_regularizer {
            ctx.add_activity_penalty(reg, &y)?;
        }
        Ok(y)
    }

    crate::weights_in_field!();
}

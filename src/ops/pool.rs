//! Max and average pooling on NHWC tensors (1-D pooling: height 1).

use super::conv::{axis_geometry, Padding};
use super::{record, record_gpu};
use crate::cpu::pool::{avg_pool, avg_pool_backward, max_pool, max_pool_backward, PoolGeometry};
use crate::error::{Error, Result};
use crate::gpu::kernels;
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Average,
}

/// The windows of pooling an NHWC input of shape `x` (checked: 4-D, windows that fit).
///
/// # Errors
/// As `pool2d`.
pub fn pool_geometry(op: &str, x: &[usize], pool: [usize; 2], strides: [usize; 2], padding: Padding) -> Result<PoolGeometry> {
    if x.len() != 4 {
        return Err(Error::shape(op, "a 4-D input (batch, height, width, channels)", fmt_shape(x)));
    }
    let (out_h, pad_top) = axis_geometry(op, x[1], pool[0], strides[0], 1, padding)?;
    let (out_w, pad_left) = axis_geometry(op, x[2], pool[1], strides[1], 1, padding)?;
    Ok(PoolGeometry {
        batch: x[0],
        in_h: x[1],
        in_w: x[2],
        channels: x[3],
        pool_h: pool[0],
        pool_w: pool[1],
        stride_h: strides[0],
        stride_w: strides[1],
        pad_top,
        pad_left,
        out_h,
        out_w,
    })
}

/// Pool NHWC `x` with `pool` windows every `strides`; "same" pads after first, like Keras.
///
/// # Errors
/// `Shape` for a non-4-D input or a 'valid' window larger than the input; `Value` for zero
/// sizes or strides.
pub fn pool2d(x: &Tensor, kind: PoolKind, pool: [usize; 2], strides: [usize; 2], padding: Padding) -> Result<Tensor> {
    let op = if kind == PoolKind::Max { "max_pool" } else { "average_pool" };
    let geo = pool_geometry(op, x.shape(), pool, strides, padding)?;
    let s = x.shape();
    let (out_h, out_w) = (geo.out_h, geo.out_w);
    let shape = [s[0], out_h, out_w, s[3]];
    let in_shape = s.to_vec();
    if x.device() == Device::Gpu {
        return pool2d_gpu(op, x, kind, geo, &shape);
    }
    let xv = x.cpu_values();
    match kind {
        PoolKind::Max => {
            let values = max_pool(&geo, xv.as_slice());
            Ok(record(op, values, &shape, &[x], move |out| {
                let x = x.detach();
                move |g: &Tensor| {
                    let dx = max_pool_backward(&geo, x.cpu_values().as_slice(), out.cpu_values().as_slice(), g.cpu_values().as_slice(), false);
                    Ok(vec![Some(Tensor::from_vec(dx, &in_shape)?)])
                }
            }))
        }
        PoolKind::Average => {
            let values = avg_pool(&geo, xv.as_slice());
            Ok(record(op, values, &shape, &[x], move |_| {
                move |g: &Tensor| Ok(vec![Some(Tensor::from_vec(avg_pool_backward(&geo, g.cpu_values().as_slice()), &in_shape)?)])
            }))
        }
    }
}

/// Pooling on the GPU (`shaders/pool.wgsl`), recorded with its GPU backward.
fn pool2d_gpu(op: &'static str, x: &Tensor, kind: PoolKind, geo: PoolGeometry, shape: &[usize]) -> Result<Tensor> {
    let in_shape = x.shape().to_vec();
    match kind {
        PoolKind::Max => max_pool_gpu(op, x, geo, shape),
        PoolKind::Average => {
            let values = kernels::average_pool(op, x, &geo)?;
            Ok(record_gpu(op, values, shape, &[x], move |_| move |g: &Tensor| Ok(vec![Some(Tensor::from_gpu(kernels::average_pool_backward(op, g, &geo)?, &in_shape))])))
        }
    }
}

/// Max pooling on the GPU with output `shape`, recorded with its backward, which gathers through
/// the argmax the forward kernel wrote.
fn max_pool_gpu(op: &'static str, x: &Tensor, geo: PoolGeometry, shape: &[usize]) -> Result<Tensor> {
    let in_shape = x.shape().to_vec();
    let (values, argmax) = kernels::max_pool(op, x, &geo)?;
    let argmax = Tensor::from_gpu(argmax, &[geo.out_len()]);
    Ok(record_gpu(op, values, shape, &[x], move |_| {
        move |g: &Tensor| Ok(vec![Some(Tensor::from_gpu(kernels::max_pool_backward(op, &argmax, g, &geo)?, &in_shape))])
    }))
}

//! softmax and log_softmax along one axis.

use super::{mul, record, sub, sum};
use crate::gpu::kernels;
use crate::tensor::Device;
use crate::cpu;
use crate::error::Result;
use crate::tensor::shape::normalize_axis;
use crate::tensor::Tensor;

/// `(outer, len, inner)` of `shape` around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

/// Softmax along `axis` (default -1 in Python).
///
/// # Errors
/// `Axis` for an axis out of range.
pub fn softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = normalize_axis("softmax", axis, x.ndim().max(1))?;
    let (outer, len, inner) = if x.ndim() == 0 { (1, 1, 1) } else { split(x.shape(), axis) };
    if x.device() == Device::Gpu {
        return on_gpu("softmax", x, axis, false);
    }
    let values = cpu::softmax::softmax(x.cpu_values().as_slice(), outer, len, inner);
    Ok(record("softmax", values, x.shape(), &[x], move |y| {
        move |g: &Tensor| {
            let dx = cpu::softmax::softmax_backward(y.cpu_values().as_slice(), g.cpu_values().as_slice(), outer, len, inner);
            Ok(vec![Some(Tensor::from_vec(dx, g.shape())?)])
        }
    }))
}

/// Log-softmax along `axis`, computed without forming the softmax (stable for large logits).
///
/// # Errors
/// `Axis` for an axis out of range.
pub fn log_softmax(x: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = normalize_axis("log_softmax", axis, x.ndim().max(1))?;
    let (outer, len, inner) = if x.ndim() == 0 { (1, 1, 1) } else { split(x.shape(), axis) };
    if x.device() == Device::Gpu {
        return on_gpu("log_softmax", x, axis, true);
    }
    let values = cpu::softmax::log_softmax(x.cpu_values().as_slice(), outer, len, inner);
    Ok(record("log_softmax", values, x.shape(), &[x], move |y| {
        move |g: &Tensor| {
            let dx = cpu::softmax::log_softmax_backward(y.cpu_values().as_slice(), g.cpu_values().as_slice(), outer, len, inner);
            Ok(vec![Some(Tensor::from_vec(dx, g.shape())?)])
        }
    }))
}

/// (Log-)softmax on the GPU: the axis is moved last (a view, copied row-major by the kernel's
/// read), one workgroup per row. The backward is composed from GPU ops:
/// softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g).
fn on_gpu(op: &'static str, x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    let nd = x.ndim().max(1);
    let x1 = if x.ndim() == 0 { super::reshape(x, &[1])? } else { x.clone() };
    let mut order: Vec<usize> = (0..nd).filter(|&a| a != axis).collect();
    order.push(axis);
    let moved = super::permute(&x1, &order)?;
    let len = x1.shape()[axis];
    let rows = x1.numel() / len.max(1);
    let buffer = kernels::softmax_rows(op, &moved, rows, len, log)?;
    let moved_shape = moved.shape().to_vec();
    let inverse: Vec<usize> = (0..nd).map(|i| order.iter().position(|&o| o == i).unwrap_or(i)).collect();
    let y_moved = Tensor::from_gpu(buffer, &moved_shape);
    let y = super::contiguous(&super::permute(&y_moved, &inverse)?)?;
    let y = if x.ndim() == 0 { super::reshape(&y, &[])? } else { y };
    let storage = y.storage();
    let axis_i = axis as isize;
    Ok(Tensor::from_op_layout(op, y.layout().clone(), storage, &[x], move |y| {
        super::FnRule(move |g: &Tensor| {
            let dx = if log {
                sub(g, &mul(&super::exp(&y)?, &sum(g, Some(&[axis_i]), true)?)?)?
            } else {
                mul(&y, &sub(g, &sum(&mul(g, &y)?, Some(&[axis_i]), true)?)?)?
            };
            Ok(vec![Some(dx)])
        })
    }))
}

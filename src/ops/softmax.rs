//! softmax and log_softmax along one axis.

use super::record;
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
    let values = cpu::softmax::log_softmax(x.cpu_values().as_slice(), outer, len, inner);
    Ok(record("log_softmax", values, x.shape(), &[x], move |y| {
        move |g: &Tensor| {
            let dx = cpu::softmax::log_softmax_backward(y.cpu_values().as_slice(), g.cpu_values().as_slice(), outer, len, inner);
            Ok(vec![Some(Tensor::from_vec(dx, g.shape())?)])
        }
    }))
}

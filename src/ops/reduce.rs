//! Reductions: sum, mean, max over axes (with keepdims), and `sum_to`, which undoes a broadcast.

use super::{broadcast_to, contiguous, mul, permute, record, record_gpu, reshape};
use crate::cpu;
use crate::error::{Error, Result};
use crate::tensor::shape::{fmt_shape, normalize_axes};
use crate::gpu;
use crate::tensor::{Device, Tensor};

/// Output shape of reducing `axes` (sorted) of `shape`.
fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdims {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

/// Sum row-major `values` of `shape` over sorted `axes`, one axis at a time from the last.
fn sum_values(values: Vec<f32>, shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let mut values = values;
    let mut shape = shape.to_vec();
    for &axis in axes.iter().rev() {
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        values = cpu::reduce::sum_axis(&values, outer, shape[axis], inner);
        shape[axis] = 1;
    }
    values
}

/// Sum over `axes` (None: all), keeping reduced axes as size 1 when `keepdims`.
///
/// # Errors
/// `Axis` for an axis out of range.
pub fn sum(x: &Tensor, axes: Option<&[isize]>, keepdims: bool) -> Result<Tensor> {
    let axes = normalize_axes("sum", axes, x.ndim())?;
    let out_shape = reduced_shape(x.shape(), &axes, keepdims);
    let in_shape = x.shape().to_vec();
    let kept = reduced_shape(x.shape(), &axes, true);
    let rule = move |_| move |g: &Tensor| Ok(vec![Some(contiguous(&broadcast_to(&reshape(g, &kept)?, &in_shape)?)?)]);
    if x.device() == Device::Gpu {
        // Reduced axes moved last (a view): each output is the sum of one row.
        let kept_axes: Vec<usize> = (0..x.ndim()).filter(|a| !axes.contains(a)).collect();
        let order: Vec<usize> = kept_axes.iter().chain(axes.iter()).copied().collect();
        let moved = permute(x, &order)?;
        let row: usize = axes.iter().map(|&a| x.shape()[a]).product();
        let rows: usize = kept_axes.iter().map(|&a| x.shape()[a]).product();
        let buffer = gpu::kernels::reduce_rows("sum", &moved, rows, row, gpu::kernels::RowReduce::Sum)?;
        return Ok(record_gpu("sum", buffer, &out_shape, &[x], rule));
    }
    let values = if axes.len() == x.ndim() {
        vec![cpu::reduce::sum_all(x.cpu_values().as_slice())]
    } else {
        sum_values(x.to_vec(), x.shape(), &axes)
    };
    Ok(record("sum", values, &out_shape, &[x], rule))
}

/// Mean over `axes` (None: all).
///
/// # Errors
/// `Axis` for an axis out of range.
pub fn mean(x: &Tensor, axes: Option<&[isize]>, keepdims: bool) -> Result<Tensor> {
    let normalized = normalize_axes("mean", axes, x.ndim())?;
    let count: usize = normalized.iter().map(|&a| x.shape()[a]).product();
    let total = sum(x, axes, keepdims)?;
    mul(&total, &Tensor::scalar(1.0 / count as f32))
}

/// Maximum over `axes` (None: all). The gradient goes to the first maximal element.
///
/// # Errors
/// `Axis` for an axis out of range; `Shape` when reducing an empty axis.
pub fn max(x: &Tensor, axes: Option<&[isize]>, keepdims: bool) -> Result<Tensor> {
    let axes = normalize_axes("max", axes, x.ndim())?;
    if axes.iter().any(|&a| x.shape()[a] == 0) {
        return Err(Error::shape("max", "non-empty reduced axes", fmt_shape(x.shape())));
    }
    // Move the reduced axes last: each output is then the max of one contiguous row.
    let kept_axes: Vec<usize> = (0..x.ndim()).filter(|a| !axes.contains(a)).collect();
    let order: Vec<usize> = kept_axes.iter().chain(axes.iter()).copied().collect();
    let row: usize = axes.iter().map(|&a| x.shape()[a]).product();
    let outer = x.numel() / row.max(1);
    if x.device() == Device::Gpu {
        return max_on_gpu(x, &order, outer, row, &reduced_shape(x.shape(), &axes, keepdims));
    }
    let moved = contiguous(&permute(x, &order)?)?;
    let (values, argmax) = cpu::reduce::max_axis(moved.cpu_values().as_slice(), outer, row, 1);
    let out_shape = reduced_shape(x.shape(), &axes, keepdims);
    let moved_shape = moved.shape().to_vec();
    Ok(record("max", values, &out_shape, &[x], move |_| {
        let inverse: Vec<usize> = (0..order.len()).map(|i| order.iter().position(|&o| o == i).unwrap_or(i)).collect();
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let mut scattered = vec![0.0f32; outer * row];
            for (o, (&idx, &gval)) in argmax.iter().zip(gv.as_slice()).enumerate() {
                scattered[o * row + idx] = gval;
            }
            let moved_grad = Tensor::from_vec(scattered, &moved_shape)?;
            Ok(vec![Some(contiguous(&permute(&moved_grad, &inverse)?)?)])
        }
    }))
}

/// Sum `x` down to `shape`, undoing NumPy broadcasting (the gradient of a broadcast).
///
/// # Errors
/// `Shape` when `shape` does not broadcast to `x`'s shape.
pub fn sum_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let broadcast = crate::tensor::shape::broadcast_shapes("sum_to", shape, x.shape())?;
    if broadcast != x.shape() {
        return Err(Error::shape("sum_to", format!("a shape that broadcasts to {}", fmt_shape(x.shape())), fmt_shape(shape)));
    }
    if x.device() == Device::Gpu {
        // The broadcast axes: the leading ones `shape` lacks, and its length-1 axes.
        let lead = x.ndim() - shape.len();
        let axes: Vec<isize> = (0..x.ndim()).filter(|&a| a < lead || (shape[a - lead] == 1 && x.shape()[a] != 1)).map(|a| a as isize).collect();
        return reshape(&sum(x, Some(&axes), false)?, shape);
    }
    let values = cpu::binary::sum_to_shape(x.cpu_values().as_slice(), x.shape(), shape);
    let from = x.shape().to_vec();
    Ok(record("sum_to", values, shape, &[x], move |_| {
        move |g: &Tensor| Ok(vec![Some(contiguous(&broadcast_to(g, &from)?)?)])
    }))
}

/// `max` on the GPU: the rows' maxima and first-maximum indices in one kernel; the backward puts
/// each row's gradient at its index (an elementwise compare against the column number).
fn max_on_gpu(x: &Tensor, order: &[usize], outer: usize, row: usize, out_shape: &[usize]) -> Result<Tensor> {
    let moved = permute(x, order)?;
    let moved_shape = moved.shape().to_vec();
    let (values, indices) = gpu::kernels::argmax_rows("max", &moved, outer, row)?;
    let indices = Tensor::from_gpu(indices, &[outer, 1]);
    let inverse: Vec<usize> = (0..order.len()).map(|i| order.iter().position(|&o| o == i).unwrap_or(i)).collect();
    Ok(record_gpu("max", values, out_shape, &[x], move |_| {
        move |g: &Tensor| {
            let g = reshape(g, &[outer, 1])?;
            let columns = Tensor::from_vec_on((0..row).map(|c| c as f32).collect(), &[row], Device::Gpu)?;
            let scattered = gpu::kernels::elementwise("max", "max_backward", "select(0.0, x0, x2 == x1)", &[&g, &indices, &columns], &[outer, row], [0.0; 4])?;
            let moved_grad = reshape(&Tensor::from_gpu(scattered, &[outer, row]), &moved_shape)?;
            Ok(vec![Some(contiguous(&permute(&moved_grad, &inverse)?)?)])
        }
    }))
}

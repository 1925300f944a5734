//! Shape ops. reshape, permute/transpose, slice and broadcast_to return views over the same
//! storage where the layout allows; `contiguous` makes a row-major copy.

use super::record;
use crate::error::{Error, Result};
use crate::tensor::shape::{broadcast_shapes, fmt_shape, normalize_axis};
use crate::tensor::{Layout, Tensor};

/// A row-major copy (a no-op handle clone when already contiguous).
pub fn contiguous(x: &Tensor) -> Result<Tensor> {
    if x.layout().is_contiguous() && x.layout().offset == 0 && x.storage().len() == x.numel() {
        return Ok(x.clone());
    }
    if x.device() == crate::tensor::Device::Gpu {
        let buffer = crate::gpu::kernels::elementwise("contiguous", "copy", "x0", &[x], x.shape(), [0.0; 4])?;
        return Ok(super::record_gpu("contiguous", buffer, x.shape(), &[x], |_| |g: &Tensor| Ok(vec![Some(g.clone())])));
    }
    let values = x.to_vec();
    Ok(record("contiguous", values, x.shape(), &[x], |_| |g: &Tensor| Ok(vec![Some(g.clone())])))
}

/// Resolve one `-1` in a requested shape.
fn resolve_shape(x: &Tensor, shape: &[isize]) -> Result<Vec<usize>> {
    let unknown = shape.iter().filter(|&&d| d == -1).count();
    let bad = || {
        Error::shape(
            "reshape",
            format!("a shape with {} elements (at most one -1)", x.numel()),
            format!("{:?} for input {}", shape, fmt_shape(x.shape())),
        )
    };
    if unknown > 1 || shape.iter().any(|&d| d < -1) {
        return Err(bad());
    }
    let known = shape.iter().filter(|&&d| d != -1).try_fold(1usize, |acc, &d| acc.checked_mul(d as usize)).ok_or_else(bad)?;
    let resolved: Vec<usize> = if unknown == 1 {
        if known == 0 || x.numel() % known != 0 {
            return Err(bad());
        }
        shape.iter().map(|&d| if d == -1 { x.numel() / known } else { d as usize }).collect()
    } else {
        shape.iter().map(|&d| d as usize).collect()
    };
    if resolved.iter().product::<usize>() != x.numel() {
        return Err(bad());
    }
    Ok(resolved)
}

/// Reshape to `shape` (one entry may be -1).
///
/// # Errors
/// `Shape` when the element counts differ.
pub fn reshape_inferred(x: &Tensor, shape: &[isize]) -> Result<Tensor> {
    let resolved = resolve_shape(x, shape)?;
    reshape(x, &resolved)
}

/// Reshape to a fully known `shape` (a view when `x` is contiguous).
///
/// # Errors
/// `Shape` when the element counts differ.
pub fn reshape(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if shape.iter().product::<usize>() != x.numel() {
        return Err(Error::shape(
            "reshape",
            format!("a shape with {} elements", x.numel()),
            format!("{} for input {}", fmt_shape(shape), fmt_shape(x.shape())),
        ));
    }
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let source = if x.layout().is_contiguous() { x.clone() } else { contiguous(x)? };
    let layout = Layout { offset: source.layout().offset, ..Layout::contiguous(shape) };
    let in_shape = x.shape().to_vec();
    Ok(Tensor::from_op_layout("reshape", layout, source.storage(), &[&source], |_| {
        super::FnRule(move |g: &Tensor| Ok(vec![Some(reshape(g, &in_shape)?)]))
    }))
}

/// Reorder axes (a view).
///
/// # Errors
/// `Axis`/`Value` when `axes` is not a permutation of `0..ndim`.
pub fn permute(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let n = x.ndim();
    let mut seen = vec![false; n];
    let valid = axes.len() == n && axes.iter().all(|&a| a < n && !std::mem::replace(&mut seen[a], true));
    if !valid {
        return Err(Error::value("transpose", format!("a permutation of {n} axes"), format!("{axes:?} for shape {}", fmt_shape(x.shape()))));
    }
    if axes.iter().enumerate().all(|(i, &a)| i == a) {
        return Ok(x.clone());
    }
    let inverse: Vec<usize> = (0..n).map(|i| axes.iter().position(|&a| a == i).unwrap_or(i)).collect();
    Ok(Tensor::from_op_layout("transpose", x.layout().permuted(axes), x.storage(), &[x], |_| {
        super::FnRule(move |g: &Tensor| Ok(vec![Some(permute(g, &inverse)?)]))
    }))
}

/// NumPy `transpose`: reverse the axes when `axes` is None, else permute (negative axes allowed).
///
/// # Errors
/// As `permute`.
pub fn transpose(x: &Tensor, axes: Option<&[isize]>) -> Result<Tensor> {
    let order: Vec<usize> = match axes {
        None => (0..x.ndim()).rev().collect(),
        Some(list) if list.len() != x.ndim() => {
            return Err(Error::value("transpose", format!("a permutation of {} axes", x.ndim()), format!("{list:?} for shape {}", fmt_shape(x.shape()))));
        }
        Some(list) => list.iter().map(|&a| normalize_axis("transpose", a, x.ndim())).collect::<Result<_>>()?,
    };
    permute(x, &order)
}

/// Broadcast to `shape` (a view with zero strides).
///
/// # Errors
/// `Shape` when `x` does not broadcast to `shape`.
pub fn broadcast_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    let b = broadcast_shapes("broadcast_to", x.shape(), shape);
    if b.as_deref() != Ok(shape) {
        return Err(Error::shape("broadcast_to", format!("a shape {} broadcasts to", fmt_shape(x.shape())), fmt_shape(shape)));
    }
    let in_shape = x.shape().to_vec();
    Ok(Tensor::from_op_layout("broadcast_to", x.layout().broadcast_to(shape), x.storage(), &[x], |_| {
        super::FnRule(move |g: &Tensor| Ok(vec![Some(super::sum_to(g, &in_shape)?)]))
    }))
}

/// One axis of a basic index: a single position (the axis is dropped) or a range with a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SliceSpec {
    Index(usize),
    Range { start: isize, step: isize, len: usize },
}

/// The layout of `layout` indexed by `specs` (positions checked).
fn slice_layout(layout: &Layout, specs: &[SliceSpec]) -> Result<Layout> {
    if specs.len() > layout.ndim() {
        return Err(Error::shape("getitem", format!("at most {} indices", layout.ndim()), format!("{} for shape {}", specs.len(), fmt_shape(&layout.shape))));
    }
    let mut offset = layout.offset as isize;
    let mut shape = Vec::new();
    let mut strides = Vec::new();
    for (axis, spec) in specs.iter().enumerate() {
        let (dim, stride) = (layout.shape[axis], layout.strides[axis]);
        match *spec {
            SliceSpec::Index(i) => {
                if i >= dim {
                    return Err(Error::shape("getitem", format!("an index below {dim} on axis {axis}"), format!("{i} for shape {}", fmt_shape(&layout.shape))));
                }
                offset += i as isize * stride;
            }
            SliceSpec::Range { start, step, len } => {
                let last = start + step * (len as isize - 1);
                if step == 0 || (len > 0 && (start < 0 || start >= dim as isize || last < 0 || last >= dim as isize)) {
                    return Err(Error::shape("getitem", format!("a slice inside axis {axis} of length {dim}"), format!("start={start}, step={step}, len={len}")));
                }
                if len > 0 {
                    offset += start * stride;
                }
                shape.push(len);
                strides.push(stride * step);
            }
        }
    }
    shape.extend_from_slice(&layout.shape[specs.len()..]);
    strides.extend_from_slice(&layout.strides[specs.len()..]);
    Ok(Layout { shape, strides, offset: offset.max(0) as usize })
}

/// Basic indexing (a view). `specs` has one entry per leading axis; the rest are kept whole.
/// Positions are already resolved (Python's `slice.indices`); this checks them again.
///
/// # Errors
/// `Shape` when there are more specs than axes or a position is out of range.
pub fn slice(x: &Tensor, specs: &[SliceSpec]) -> Result<Tensor> {
    let view = slice_layout(x.layout(), specs)?;
    let in_shape = x.shape().to_vec();
    let specs = specs.to_vec();
    Ok(Tensor::from_op_layout("getitem", view, x.storage(), &[x], |_| {
        super::FnRule(move |g: &Tensor| {
            if g.device() == crate::tensor::Device::Gpu {
                let target = slice_layout(&Layout::contiguous(&in_shape), &specs)?;
                let buffer = crate::gpu::kernels::scatter_into_view("getitem", g, &target, in_shape.iter().product())?;
                return Ok(vec![Some(Tensor::from_gpu(buffer, &in_shape))]);
            }
            // Scatter the gradient into zeros through the same view.
            let zeros = Tensor::zeros(&in_shape);
            let positions = {
                let target = slice(&zeros, &specs)?;
                let mut p = Vec::with_capacity(target.numel());
                target.layout().for_each_index(|i| p.push(i));
                p
            };
            let gv = g.cpu_values();
            zeros.update_in_place(|dst| {
                for (&p, &v) in positions.iter().zip(gv.as_slice()) {
                    dst[p] += v;
                }
            })?;
            Ok(vec![Some(zeros)])
        })
    }))
}

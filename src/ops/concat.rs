//! Concatenation along an axis (Bidirectional's "concat" merge, `ferronet.ops.concatenate`).

use super::{contiguous, record, record_gpu, slice, SliceSpec};
use crate::error::{Error, Result};
use crate::gpu::{kernels, GpuBuffer};
use crate::tensor::shape::{fmt_shape, normalize_axis};
use crate::tensor::{Device, Tensor};

/// Join `tensors` along `axis` (negative counts from the end); all other axes must agree.
///
/// # Errors
/// `Value` for an empty list; `Shape` when ranks or the other axes differ; `Axis` when `axis`
/// is out of range.
pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
    let first = tensors.first().ok_or_else(|| Error::value("concatenate", "at least one tensor", "none"))?;
    super::same_device("concatenate", tensors)?;
    let axis = normalize_axis("concatenate", axis, first.ndim())?;
    for t in &tensors[1..] {
        let same_rest = t.ndim() == first.ndim() && t.shape().iter().zip(first.shape()).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !same_rest {
            return Err(Error::shape("concatenate", format!("shapes matching {} except on axis {axis}", fmt_shape(first.shape())), fmt_shape(t.shape())));
        }
    }
    let outer: usize = first.shape()[..axis].iter().product();
    let inner: usize = first.shape()[axis + 1..].iter().product();
    let widths: Vec<usize> = tensors.iter().map(|t| t.shape()[axis] * inner).collect();
    let total: usize = widths.iter().sum();
    if first.device() == Device::Gpu {
        return concat_gpu(tensors, axis, &widths, total);
    }
    let mut out = Vec::with_capacity(outer * total);
    let values: Vec<_> = tensors.iter().map(|t| t.cpu_values()).collect();
    for o in 0..outer {
        for (v, &w) in values.iter().zip(&widths) {
            out.extend_from_slice(&v.as_slice()[o * w..(o + 1) * w]);
        }
    }
    let mut shape = first.shape().to_vec();
    shape[axis] = tensors.iter().map(|t| t.shape()[axis]).sum();
    let shapes: Vec<Vec<usize>> = tensors.iter().map(|t| t.shape().to_vec()).collect();
    Ok(record("concatenate", out, &shape, tensors, move |_| {
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let gv = gv.as_slice();
            let mut parts: Vec<Vec<f32>> = widths.iter().map(|w| Vec::with_capacity(outer * w)).collect();
            for o in 0..outer {
                let mut at = o * total;
                for (p, &w) in parts.iter_mut().zip(&widths) {
                    p.extend_from_slice(&gv[at..at + w]);
                    at += w;
                }
            }
            parts.into_iter().zip(&shapes).map(|(p, s)| Tensor::from_vec(p, s).map(Some)).collect()
        }
    }))
}

/// Concatenation on the GPU: one copy kernel per input into its block of the output; the
/// gradients are slices of the output's gradient, copied on the GPU.
fn concat_gpu(tensors: &[&Tensor], axis: usize, widths: &[usize], total: usize) -> Result<Tensor> {
    let op = "concatenate";
    let first = tensors[0];
    let outer: usize = first.shape()[..axis].iter().product();
    let out = GpuBuffer::uninit(op, outer * total)?;
    let mut at = 0;
    for (t, &w) in tensors.iter().zip(widths) {
        kernels::concatenate_into(op, t, &out, w, total, at)?;
        at += w;
    }
    let mut shape = first.shape().to_vec();
    shape[axis] = tensors.iter().map(|t| t.shape()[axis]).sum();
    let lengths: Vec<usize> = tensors.iter().map(|t| t.shape()[axis]).collect();
    Ok(record_gpu(op, out, &shape, tensors, move |_| {
        move |g: &Tensor| {
            let mut start = 0;
            let mut grads = Vec::with_capacity(lengths.len());
            for &len in &lengths {
                let mut specs: Vec<SliceSpec> = g.shape()[..axis].iter().map(|&d| SliceSpec::Range { start: 0, step: 1, len: d }).collect();
                specs.push(SliceSpec::Range { start: start as isize, step: 1, len });
                grads.push(Some(contiguous(&slice(g, &specs)?)?));
                start += len;
            }
            Ok(grads)
        }
    }))
}

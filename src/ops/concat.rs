//! Concatenation along an axis (Bidirectional's "concat" merge, `ferronet.ops.concatenate`).

use super::record;
use crate::error::{Error, Result};
use crate::tensor::shape::{fmt_shape, normalize_axis};
use crate::tensor::Tensor;

/// Join `tensors` along `axis` (negative counts from the end); all other axes must agree.
///
/// # Errors
/// `Value` for an empty list; `Shape` when ranks or the other axes differ; `Axis` when `axis`
/// is out of range.
pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
    if let Some(out) = super::via_cpu("concatenate", tensors, |t| concat(&t.iter().collect::<Vec<_>>(), axis))? {
        return Ok(out);
    }
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

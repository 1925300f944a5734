//! Matrix product with NumPy `matmul` semantics: 1-D operands are promoted, leading (batch) axes
//! broadcast, and transposed or sliced operands are read through their strides without a copy.

use super::{record, record_gpu, reshape, same_device, sum_to, transpose};
use crate::cpu::gemm::{gemm, MatRef};
use crate::gpu::kernels::{self, MatView};
use crate::error::{Error, Result};
use crate::tensor::shape::{broadcast_shapes, fmt_shape};
use crate::tensor::{Layout, Storage, Tensor};

/// `a @ b`.
///
/// # Errors
/// `Shape` when an operand is a scalar, the inner dimensions differ, or batch axes do not
/// broadcast.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    same_device("matmul", &[a, b])?;
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::shape("matmul", "operands with at least one axis", format!("{} and {}", fmt_shape(a.shape()), fmt_shape(b.shape()))));
    }
    // NumPy promotion of 1-D operands, undone on the result.
    if a.ndim() == 1 || b.ndim() == 1 {
        let a2 = if a.ndim() == 1 { reshape(a, &[1, a.shape()[0]])? } else { a.clone() };
        let b2 = if b.ndim() == 1 { reshape(b, &[b.shape()[0], 1])? } else { b.clone() };
        let out = matmul_nd(&a2, &b2, a, b)?;
        let mut shape = out.shape().to_vec();
        if b.ndim() == 1 {
            shape.pop();
        }
        if a.ndim() == 1 {
            shape.remove(shape.len() - if b.ndim() == 1 { 1 } else { 2 });
        }
        return reshape(&out, &shape);
    }
    matmul_nd(a, b, a, b)
}

/// Batched matmul of operands with at least two axes. `orig_*` are only used in messages.
fn matmul_nd(a: &Tensor, b: &Tensor, orig_a: &Tensor, orig_b: &Tensor) -> Result<Tensor> {
    let (sa, sb) = (a.shape(), b.shape());
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != k2 {
        return Err(Error::shape(
            "matmul",
            format!("inner dimensions to match (a's last axis = b's first matrix axis {k2})"),
            format!("{} @ {}", fmt_shape(orig_a.shape()), fmt_shape(orig_b.shape())),
        ));
    }
    let batch_a = &sa[..sa.len() - 2];
    let batch_b = &sb[..sb.len() - 2];
    let batch = broadcast_shapes("matmul", batch_a, batch_b)
        .map_err(|_| Error::shape("matmul", "batch axes that broadcast", format!("{} @ {}", fmt_shape(orig_a.shape()), fmt_shape(orig_b.shape()))))?;
    let batches: usize = batch.iter().product();
    let mut out_shape = batch.clone();
    out_shape.extend_from_slice(&[m, n]);
    let la = with_batch(a.layout(), &batch);
    let lb = with_batch(b.layout(), &batch);
    let rule = |_| {
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| {
            // dA = g @ B^T, dB = A^T @ g (transposes are stride views), then undo batch broadcast.
            let swap = |t: &Tensor| {
                let mut axes: Vec<isize> = (0..t.ndim() as isize).collect();
                let n = axes.len();
                axes.swap(n - 1, n - 2);
                transpose(t, Some(&axes))
            };
            let ga = matmul_nd(g, &swap(&b)?, g, &b)?;
            let gb = matmul_nd(&swap(&a)?, g, &a, g)?;
            Ok(vec![Some(sum_to(&ga, a.shape())?), Some(sum_to(&gb, b.shape())?)])
        }
    };
    let (store_a, store_b) = (a.storage(), b.storage());
    let (Storage::Cpu(buf_a), Storage::Cpu(buf_b)) = (&*store_a, &*store_b) else {
        let (va, vb) = (gpu_operand(a, la, batch.len())?, gpu_operand(b, lb, batch.len())?);
        let buffer = kernels::gemm("matmul", m, n, k, batches, &view(&va), &view(&vb))?;
        return Ok(record_gpu("matmul", buffer, &out_shape, &[a, b], rule));
    };
    let mut out = vec![0.0f32; batches * m * n];
    for (i, chunk) in out.chunks_mut((m * n).max(1)).enumerate().take(batches) {
        let ra = mat_at(buf_a.as_slice(), &la, i);
        let rb = mat_at(buf_b.as_slice(), &lb, i);
        gemm(m, n, k, ra, rb, chunk, false);
    }
    Ok(record("matmul", out, &out_shape, &[a, b], rule))
}

/// The GEMM kernel's reading of an operand prepared by `gpu_operand`.
fn view(t: &Tensor) -> MatView<'_> {
    let l = t.layout();
    let nd = l.ndim();
    MatView { tensor: t, offset: l.offset, row_stride: l.strides[nd - 2], col_stride: l.strides[nd - 1], batch_stride: if nd > 2 { l.strides[nd - 3] } else { 0 } }
}

/// A GPU operand as a view the GEMM kernel reads directly: its batch axes (already broadcast)
/// folded into one with a single stride, or a row-major copy when they do not fold or a stride
/// is negative.
fn gpu_operand(t: &Tensor, layout: Layout, batch_axes: usize) -> Result<Tensor> {
    let folds = (0..batch_axes.saturating_sub(1)).all(|i| layout.shape[i] == 1 || layout.strides[i] == layout.strides[i + 1] * layout.shape[i + 1] as isize);
    let view = Tensor::from_storage(layout, t.storage());
    let view = if folds && view.layout().strides.iter().all(|&s| s >= 0) { view } else { kernels::contiguous_gpu("matmul", &view)? };
    let l = view.layout();
    let nd = l.ndim();
    // Keep the last batch axis (its stride steps through the folded batch) and the matrix axes.
    let keep = nd.min(if batch_axes > 0 { 3 } else { 2 });
    let batches: usize = l.shape[..nd - 2].iter().product();
    let mut shape = vec![l.shape[nd - 2], l.shape[nd - 1]];
    let mut strides = vec![l.strides[nd - 2], l.strides[nd - 1]];
    if keep == 3 {
        shape.insert(0, batches);
        // A broadcast batch (every stride 0) repeats one matrix.
        let step = if batches > 1 { l.strides[nd - 3] } else { 0 };
        strides.insert(0, step);
    }
    Ok(Tensor::from_storage(Layout { shape, strides, offset: l.offset }, view.storage()))
}

/// `layout` with its batch axes broadcast to `batch` (zero strides where repeated).
fn with_batch(layout: &Layout, batch: &[usize]) -> Layout {
    let nd = layout.ndim();
    let mut target = batch.to_vec();
    target.extend_from_slice(&layout.shape[nd - 2..]);
    layout.broadcast_to(&target)
}

/// The `index`-th matrix (row-major order over batch axes) of a batched layout.
fn mat_at<'a>(data: &'a [f32], layout: &Layout, index: usize) -> MatRef<'a> {
    let nd = layout.ndim();
    let mut offset = layout.offset as isize;
    let mut rest = index;
    for axis in (0..nd - 2).rev() {
        let dim = layout.shape[axis];
        offset += (rest % dim) as isize * layout.strides[axis];
        rest /= dim;
    }
    MatRef { data, offset: offset as usize, row_stride: layout.strides[nd - 2], col_stride: layout.strides[nd - 1] }
}

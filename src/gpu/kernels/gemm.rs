//! The tiled GEMM kernel (batched, strided operands).

use super::{buffer_of, launch, pipeline, raw, u32_of};
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;
use super::fill_buffer;

/// Rows and columns from which the 128x128-tile kernel is used.
const LARGE: usize = 256;

/// A matrix operand: a tensor read as `(rows, cols)` (per batch) through its layout's strides.
pub struct MatView<'a> {
    pub tensor: &'a Tensor,
    pub offset: usize,
    pub row_stride: isize,
    pub col_stride: isize,
    pub batch_stride: isize,
}

/// `c[b] = a[b] @ b[b]` for `batches` pairs of `(m, k) @ (k, n)`; row-major result per batch.
pub fn gemm(op: &str, m: usize, n: usize, k: usize, batches: usize, a: &MatView<'_>, b: &MatView<'_>) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let (sa, sb) = (buffer_of(op, a.tensor)?, buffer_of(op, b.tensor)?);
    let out = GpuBuffer::uninit(op, batches * m * n)?;
    if m * n * batches == 0 {
        return Ok(out);
    }
    let stride = |s: isize| u32::try_from(s).map_err(|_| Error::value(op, "non-negative strides on the GPU", s.to_string()));
    let params = [
        u32_of(op, "rows", m)?,
        u32_of(op, "columns", n)?,
        u32_of(op, "the inner size", k)?,
        u32_of(op, "an offset", a.offset)?,
        stride(a.row_stride)?,
        stride(a.col_stride)?,
        stride(a.batch_stride)?,
        u32_of(op, "an offset", b.offset)?,
        stride(b.row_stride)?,
        stride(b.col_stride)?,
        stride(b.batch_stride)?,
        0,
    ];
    if k == 0 {
        // An empty inner product is zero (the kernel would never write).
        return fill_buffer(op, out, 0.0);
    }
    // Large products take 128x128 tiles (8x8 per thread: twice the arithmetic per value read
    // from workgroup memory); smaller ones 64x64 tiles, so that they still fill the GPU.
    let (tile, key, source) = if m >= LARGE && n >= LARGE {
        (128, "gemm_large", include_str!("../shaders/gemm_large.wgsl"))
    } else {
        (64, "gemm", include_str!("../shaders/gemm.wgsl"))
    };
    let pipeline = pipeline(gpu, key, || source.to_string());
    let max = gpu.max_groups() as usize;
    if batches > max || m.div_ceil(tile) > max || n.div_ceil(tile) > max {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {max} tiles per grid axis"), got: format!("({batches}, {m}, {n})") });
    }
    launch(gpu, &pipeline, &params, &[raw(&sa), raw(&sb), out.raw()], [n.div_ceil(tile) as u32, m.div_ceil(tile) as u32, batches as u32]);
    Ok(out)
}


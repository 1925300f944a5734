//! The tiled GEMM kernel (batched, strided operands).

use super::{buffer_of, launch, pipeline, raw, u32_of};
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;
use super::fill_buffer;

/// A matrix operand: a tensor read as `(rows, cols)` (per batch) through its layout's strides.
pub struct MatView<'a> {
    pub tensor: &'a Tensor,
    pub offset: usize,
    pub row_stride: isize,
    pub col_stride: isize,
    pub batch_stride: isize,
}

/// A matrix inside a raw GPU buffer: element `(r, c)` of batch `z` sits at
/// `offset + r * row_stride + c * col_stride + z * batch_stride` (values, not bytes). As an
/// output (`gemm_into`), `col_stride` must be 1.
#[derive(Clone, Copy)]
pub struct BufView<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
    pub batch_stride: usize,
}

impl<'a> BufView<'a> {
    /// A row-major `(rows, row_stride)` matrix from `offset` (one batch).
    pub fn rows(buffer: &'a wgpu::Buffer, offset: usize, row_stride: usize) -> Self {
        BufView { buffer, offset, row_stride, col_stride: 1, batch_stride: 0 }
    }

    /// The same matrix read transposed (rows and columns swap roles).
    pub fn t(self) -> Self {
        BufView { row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// `c[b] = a[b] @ b[b]` for `batches` pairs of `(m, k) @ (k, n)`; row-major result per batch.
pub fn gemm(op: &str, m: usize, n: usize, k: usize, batches: usize, a: &MatView<'_>, b: &MatView<'_>) -> Result<GpuBuffer> {
    let (sa, sb) = (buffer_of(op, a.tensor)?, buffer_of(op, b.tensor)?);
    let out = GpuBuffer::uninit(op, batches * m * n)?;
    if m * n * batches == 0 {
        return Ok(out);
    }
    if k == 0 {
        // An empty inner product is zero.
        return fill_buffer(op, out, 0.0);
    }
    let stride = |s: isize| usize::try_from(s).map_err(|_| Error::value(op, "non-negative strides on the GPU", s.to_string()));
    let view = |v: &MatView<'_>, buffer| -> Result<BufView<'_>> {
        Ok(BufView { buffer, offset: v.offset, row_stride: stride(v.row_stride)?, col_stride: stride(v.col_stride)?, batch_stride: stride(v.batch_stride)? })
    };
    let c = BufView { buffer: out.raw(), offset: 0, row_stride: n, col_stride: 1, batch_stride: m * n };
    gemm_into(op, m, n, k, batches, view(a, raw(&sa))?, view(b, raw(&sb))?, c, false)?;
    Ok(out)
}

/// `c[b] (+)= a[b] @ b[b]` into an existing buffer, through offsets and strides: a result can be
/// written (or, with `accumulate`, added) into a column block or a strided set of rows of a
/// larger buffer. `c`'s buffer must not be `a`'s or `b`'s (a kernel cannot read and write one
/// buffer through two bindings). With `k == 0` the result is zero (or `c` unchanged).
///
/// # Errors
/// `Device` when a size or stride passes 2^32 or the grid the adapter's limits; `Value` when `c`'s
/// column stride is not 1.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(op: &str, m: usize, n: usize, k: usize, batches: usize, a: BufView<'_>, b: BufView<'_>, c: BufView<'_>, accumulate: bool) -> Result<()> {
    let gpu = gpu(op)?;
    if m * n * batches == 0 {
        return Ok(());
    }
    if c.col_stride != 1 {
        return Err(Error::value(op, "a GEMM output with unit column stride", c.col_stride.to_string()));
    }
    let params = [
        u32_of(op, "rows", m)?,
        u32_of(op, "columns", n)?,
        u32_of(op, "the inner size", k)?,
        u32_of(op, "an offset", a.offset)?,
        u32_of(op, "a stride", a.row_stride)?,
        u32_of(op, "a stride", a.col_stride)?,
        u32_of(op, "a stride", a.batch_stride)?,
        u32_of(op, "an offset", b.offset)?,
        u32_of(op, "a stride", b.row_stride)?,
        u32_of(op, "a stride", b.col_stride)?,
        u32_of(op, "a stride", b.batch_stride)?,
        u32::from(accumulate),
        u32_of(op, "an offset", c.offset)?,
        u32_of(op, "a stride", c.row_stride)?,
        u32_of(op, "a stride", c.batch_stride)?,
    ];
    let pipeline = pipeline(gpu, "gemm", || include_str!("../shaders/gemm.wgsl").to_string());
    let max = gpu.max_groups();
    if batches as u64 > max as u64 || m.div_ceil(64) as u64 > max as u64 || n.div_ceil(64) as u64 > max as u64 {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {max} tiles per grid axis"), got: format!("({batches}, {m}, {n})") });
    }
    launch(gpu, &pipeline, &params, &[a.buffer, b.buffer, c.buffer], [n.div_ceil(64) as u32, m.div_ceil(64) as u32, batches as u32]);
    Ok(())
}

//! The tiled GEMM kernels (batched, strided operands, strided output), and the fused dense op's
//! GEMM with a bias and activation applied before each result is stored.

use super::variant::{self, Epilogue};
use super::{buffer_of, launch, pipeline, raw, u32_of};
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::cpu::activation::Activation;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;
use super::fill_buffer;

/// Rows and columns from which the 128x128-tile kernel is used.
const LARGE: usize = 256;
/// The parameter word where the epilogue's activation scalars start (after the 15 of the GEMM).
const EPILOGUE_SCALARS: usize = 15;

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
    /// A row-major matrix of rows `row_stride` values apart, from `offset` (one batch).
    pub fn rows(buffer: &'a wgpu::Buffer, offset: usize, row_stride: usize) -> Self {
        BufView { buffer, offset, row_stride, col_stride: 1, batch_stride: 0 }
    }

    /// The same matrix read transposed (rows and columns swap roles).
    pub fn t(self) -> Self {
        BufView { row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// `view`'s tensor buffer with its strides checked non-negative.
fn buf_view<'a>(op: &str, view: &MatView<'_>, buffer: &'a wgpu::Buffer) -> Result<BufView<'a>> {
    let stride = |s: isize| usize::try_from(s).map_err(|_| Error::value(op, "non-negative strides on the GPU", s.to_string()));
    Ok(BufView { buffer, offset: view.offset, row_stride: stride(view.row_stride)?, col_stride: stride(view.col_stride)?, batch_stride: stride(view.batch_stride)? })
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
    let c = BufView { buffer: out.raw(), offset: 0, row_stride: n, col_stride: 1, batch_stride: m * n };
    gemm_into(op, m, n, k, batches, buf_view(op, a, raw(&sa))?, buf_view(op, b, raw(&sb))?, c, false)?;
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
    gemm_epilogue_into(op, m, n, k, batches, a, b, c, accumulate, Epilogue::default())
}

/// `activation(x @ kernel + bias)` for a `(rows, n_in)` matrix `x` and a `(n_in, n_out)` kernel,
/// as one GEMM whose epilogue adds the bias and applies the activation: the fused dense op.
/// `n_in` must be positive (the op composes the empty product from other kernels).
pub fn dense(op: &str, rows: usize, n_in: usize, n_out: usize, x: &MatView<'_>, kernel: &MatView<'_>, bias: Option<&Tensor>, activation: Activation) -> Result<GpuBuffer> {
    let (sx, sk) = (buffer_of(op, x.tensor)?, buffer_of(op, kernel.tensor)?);
    let bias = bias.map(|b| buffer_of(op, &super::contiguous_from_start(op, b)?)).transpose()?;
    let out = GpuBuffer::uninit(op, rows * n_out)?;
    if rows * n_out == 0 {
        return Ok(out);
    }
    debug_assert!(n_in > 0, "the dense op handles an empty inner product itself");
    let c = BufView::rows(out.raw(), 0, n_out);
    let epilogue = Epilogue { bias: bias.as_deref().map(raw), activation };
    gemm_epilogue_into(op, rows, n_out, n_in, 1, buf_view(op, x, raw(&sx))?, buf_view(op, kernel, raw(&sk))?, c, false, epilogue)?;
    Ok(out)
}

/// `gemm_into` with an epilogue applied to each result before it is stored (or added).
#[allow(clippy::too_many_arguments)]
pub fn gemm_epilogue_into(op: &str, m: usize, n: usize, k: usize, batches: usize, a: BufView<'_>, b: BufView<'_>, c: BufView<'_>, accumulate: bool, epilogue: Epilogue<'_>) -> Result<()> {
    let gpu = gpu(op)?;
    if m * n * batches == 0 {
        return Ok(());
    }
    if c.col_stride != 1 {
        return Err(Error::value(op, "a GEMM output with unit column stride", c.col_stride.to_string()));
    }
    let mut params = [
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
        0,
        0,
        0,
    ];
    params[EPILOGUE_SCALARS..EPILOGUE_SCALARS + 3].copy_from_slice(&epilogue.scalars());
    // Large products take 128x128 tiles (8x8 per thread: twice the arithmetic per value read
    // from workgroup memory); smaller ones 64x64 tiles, so that they still fill the GPU.
    let (tile, kstep, key, source): (usize, u32, _, _) = if m >= LARGE && n >= LARGE {
        (128, 8, "gemm_large", include_str!("../shaders/gemm_large.wgsl"))
    } else {
        (64, 16, "gemm", include_str!("../shaders/gemm.wgsl"))
    };
    // Operands whose layout allows it are read a vec4 at a time along their contiguous axis.
    let a_vec = variant::vec_axis(m, k, batches, a.offset, a.row_stride, a.col_stride, a.batch_stride);
    let b_vec = variant::vec_axis(k, n, batches, b.offset, b.row_stride, b.col_stride, b.batch_stride);
    // f16 tiles only where the adapter has shader-f16 and the user allowed reduced precision.
    let f16 = variant::f16_tiles(gpu);
    let pipeline = pipeline(gpu, &format!("{}/{a_vec:?}:{b_vec:?}{}", variant::key(key, "f16", f16), epilogue.key()), || {
        variant::gemm_source(source, f16, &epilogue.source(EPILOGUE_SCALARS), tile as u32, kstep, a_vec, b_vec)
    });
    let max = gpu.max_groups() as usize;
    if batches > max || m.div_ceil(tile) > max || n.div_ceil(tile) > max {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {max} tiles per grid axis"), got: format!("({batches}, {m}, {n})") });
    }
    let mut buffers = vec![a.buffer, b.buffer, c.buffer];
    buffers.extend(epilogue.bindings());
    launch(gpu, &pipeline, &params, &buffers, [n.div_ceil(tile) as u32, m.div_ceil(tile) as u32, batches as u32]);
    Ok(())
}

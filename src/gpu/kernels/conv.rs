//! Convolution passes as implicit GEMMs (`shaders/conv.wgsl`): the forward pass, the gradient to
//! the input and the gradient to the kernel, each over every group at once. A transposed
//! convolution uses the same three passes in swapped roles (see `ops::conv`).

use super::variant::Epilogue;
use super::{buffer_of, contiguous_gpu, launch, pipeline_entry, raw, reduce_rows, u32_of, RowReduce};
use crate::cpu::activation::Activation;
use crate::cpu::conv::ConvGeometry;
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

/// Output tiles of the implicit GEMM (rows, columns, rows and columns per thread, K step), for
/// outputs up to `TILES[i].0` columns wide: narrow outputs (depthwise, small groups) take tall
/// tiles instead of leaving most of a 64-wide one empty. Workgroup memory stays under 16 KiB.
const TILES: [(usize, Tile); 3] = [
    (4, Tile { rows: 256, cols: 4, per_thread_rows: 4, per_thread_cols: 1, k_step: 8 }),
    (16, Tile { rows: 128, cols: 16, per_thread_rows: 4, per_thread_cols: 2, k_step: 16 }),
    (usize::MAX, Tile { rows: 64, cols: 64, per_thread_rows: 4, per_thread_cols: 4, k_step: 16 }),
];

#[derive(Debug, Clone, Copy)]
struct Tile {
    rows: usize,
    cols: usize,
    per_thread_rows: usize,
    per_thread_cols: usize,
    k_step: usize,
}

impl Tile {
    /// The shader's tile constants (replacing the line that declares them in conv.wgsl).
    fn constants(&self) -> String {
        format!(
            "const TM: u32 = {}u; const TN: u32 = {}u; const RM: u32 = {}u; const RN: u32 = {}u; const KSTEP: u32 = {}u;",
            self.rows, self.cols, self.per_thread_rows, self.per_thread_cols, self.k_step
        )
    }
}

/// The line of conv.wgsl that `Tile::constants` replaces.
const TILE_LINE: &str = "const TM: u32 = 64u; const TN: u32 = 64u; const RM: u32 = 4u; const RN: u32 = 4u; const KSTEP: u32 = 16u;";

/// conv.wgsl with `tile`'s constants and an epilogue (`Epilogue::source`; tests validate every
/// variant).
pub(crate) fn shader_source(tile_index: usize, epilogue: &str) -> String {
    include_str!("../shaders/conv.wgsl").replace(TILE_LINE, &TILES[tile_index].1.constants()).replace("{{EPILOGUE}}", epilogue)
}

/// The parameter word where the epilogue's activation scalars start.
const EPILOGUE_SCALARS: usize = 24;

/// The identity epilogue's source (every pass but a fused forward).
#[cfg(test)]
pub(crate) fn plain_epilogue() -> String {
    Epilogue::default().source(EPILOGUE_SCALARS)
}

/// How many tile variants `shader_source` has.
#[cfg(test)]
pub(crate) const TILE_VARIANTS: usize = TILES.len();
/// Inner-product length per split of the kernel-gradient pass (its K is every output pixel).
const SPLIT_K: usize = 2048;
/// Kernel gradients with at most this many elements per group take the reduction kernel (one
/// workgroup per element) instead of output tiles, which would be mostly empty.
const REDUCE_MAX_ELEMENTS: usize = 1024;

/// Which of a convolution's three products a launch computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPass {
    /// `(x, kernel)` to the output, NHWC (batch, out_h, out_w, out_c).
    Forward,
    /// `(dy, kernel)` to the input's gradient, NHWC (batch, in_h, in_w, in_c).
    BackwardInput,
    /// `(x, dy)` to the kernel's gradient, Keras layout (kh, kw, in_c / groups, out_c).
    BackwardKernel,
}

impl ConvPass {
    fn entry(self) -> &'static str {
        match self {
            ConvPass::Forward => "conv2d_f32",
            ConvPass::BackwardInput => "conv2d_backward_input_f32",
            ConvPass::BackwardKernel => "conv2d_backward_kernel_f32",
        }
    }
}

/// One pass of the convolution `geo` on GPU operands `a` and `b` (see `ConvPass` for which is
/// which); returns the pass's output, row-major.
///
/// # Errors
/// `Device` when an operand is not on the GPU, a size exceeds what the kernel can index, or the
/// groups exceed the adapter's grid.
pub fn conv2d_pass(op: &str, pass: ConvPass, geo: &ConvGeometry, a: &Tensor, b: &Tensor) -> Result<GpuBuffer> {
    conv2d_pass_fused(op, pass, geo, a, b, None, Activation::Linear)
}

/// `conv2d_pass` with the layer's bias and activation applied to each result before it is stored
/// (the forward pass, or the backward-input pass as a transposed convolution's forward).
///
/// # Errors
/// As `conv2d_pass`; `Value` when an epilogue is asked of the kernel-gradient pass.
pub fn conv2d_pass_fused(op: &str, pass: ConvPass, geo: &ConvGeometry, a: &Tensor, b: &Tensor, bias: Option<&Tensor>, activation: Activation) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let bias = bias.map(|t| buffer_of(op, &super::contiguous_from_start(op, t)?)).transpose()?;
    let epilogue = Epilogue { bias: bias.as_deref().map(raw), activation };
    if pass == ConvPass::BackwardKernel && !epilogue.is_identity() {
        return Err(Error::value(op, "no bias or activation on the kernel-gradient pass", format!("{activation:?}")));
    }
    let (a, b) = (contiguous_gpu(op, a)?, contiguous_gpu(op, b)?);
    let (sa, sb) = (buffer_of(op, &a)?, buffer_of(op, &b)?);
    let (cg, ng) = (geo.in_c / geo.groups, geo.out_c / geo.groups);
    let taps = geo.kernel_h * geo.kernel_w;
    let pixels_in = geo.batch * geo.in_h * geo.in_w;
    let pixels_out = geo.batch * geo.out_h * geo.out_w;
    let (m, n, k, len) = match pass {
        ConvPass::Forward => (pixels_out, ng, taps * cg, pixels_out * geo.out_c),
        ConvPass::BackwardInput => (pixels_in, cg, taps * ng, pixels_in * geo.in_c),
        ConvPass::BackwardKernel => (taps * cg, ng, pixels_out, taps * cg * geo.out_c),
    };
    let tile_index = TILES.iter().position(|(widest, _)| n <= *widest).unwrap_or(TILES.len() - 1);
    let tile = TILES[tile_index].1;
    let reduce = pass == ConvPass::BackwardKernel && m * n <= REDUCE_MAX_ELEMENTS;
    let (tiles_x, tiles_y) = if reduce { (m * n, 1) } else { (n.div_ceil(tile.cols), m.div_ceil(tile.rows)) };
    // The kernel gradient has few outputs and a long inner product (every output pixel): split
    // it so the GPU has enough workgroups, and sum the partial products after.
    let splits = if pass == ConvPass::BackwardKernel {
        let busy = (tiles_x * tiles_y * geo.groups).max(1);
        (k / SPLIT_K).clamp(1, 64).min((4096 / busy).max(1))
    } else {
        1
    };
    let chunk = k.div_ceil(splits).div_ceil(16).max(1) * 16;
    let splits = k.div_ceil(chunk).max(1);
    let out = GpuBuffer::uninit(op, len * splits)?;
    if len == 0 {
        return Ok(out);
    }
    let max = gpu.max_groups() as usize;
    if tiles_x > max || geo.groups * splits > max {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {max} workgroups per grid axis"), got: format!("{tiles_x} column tiles and {} groups", geo.groups * splits) });
    }
    let mut params = vec![
        geo.batch, geo.in_h, geo.in_w, geo.in_c, geo.kernel_h, geo.kernel_w, geo.out_c, geo.groups, geo.stride_h, geo.stride_w, geo.dilation_h, geo.dilation_w, geo.pad_top,
        geo.pad_left, geo.out_h, geo.out_w, m, n, k, a.layout().offset, b.layout().offset, 0, splits, chunk,
    ]
    .into_iter()
    .map(|v| u32_of(op, "a convolution size", v))
    .collect::<Result<Vec<u32>>>()?;
    params.extend(epilogue.scalars());
    // Every flat index the shader forms must fit in u32 too.
    for bound in [a.numel(), b.numel(), len * splits] {
        u32_of(op, "an element index", bound)?;
    }
    let entry = if reduce { "conv2d_backward_kernel_reduce_f32" } else { pass.entry() };
    let key = format!("conv/{entry}/{}x{}{}", tile.rows, tile.cols, epilogue.key());
    let pipeline = pipeline_entry(gpu, &key, entry, || shader_source(tile_index, &epilogue.source(EPILOGUE_SCALARS)));
    let mut buffers = vec![raw(&sa), raw(&sb), out.raw()];
    buffers.extend(epilogue.bindings());
    let mut first = 0;
    while first < tiles_y {
        let count = (tiles_y - first).min(max);
        params[21] = first as u32;
        launch(gpu, &pipeline, &params, &buffers, [tiles_x as u32, count as u32, (geo.groups * splits) as u32]);
        first += count;
    }
    if splits == 1 {
        return Ok(out);
    }
    // Partial sums are laid out [element][split]: one row per kernel element.
    let partial = Tensor::from_gpu(out, &[len, splits]);
    reduce_rows(op, &partial, len, splits, RowReduce::Sum)
}

//! Concatenation (`shaders/concat.wgsl`): each input copied into its block of the output.

use super::{buffer_of, contiguous_gpu, grid, launch, pipeline_entry, raw, u32_of, WORKGROUP};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

/// Copy `x`, viewed as `(numel / width, width)`, into columns `[at, at + width)` of `out`, viewed
/// as rows of `total` values.
///
/// # Errors
/// `Device` without a GPU, for a CPU operand, or past the kernel's index range.
pub fn concatenate_into(op: &str, x: &Tensor, out: &GpuBuffer, width: usize, total: usize, at: usize) -> Result<()> {
    let count = x.numel();
    if count == 0 {
        return Ok(());
    }
    let gpu = gpu(op)?;
    let x = contiguous_gpu(op, x)?;
    let storage = buffer_of(op, &x)?;
    u32_of(op, "an element index", x.layout().offset + count)?;
    u32_of(op, "an element index", out.len())?;
    let params = [count, width, total, at, x.layout().offset].into_iter().map(|v| u32_of(op, "a concatenation size", v)).collect::<Result<Vec<u32>>>()?;
    let pipeline = pipeline_entry(gpu, "concat/concatenate_f32", "concatenate_f32", || include_str!("../shaders/concat.wgsl").to_string());
    launch(gpu, &pipeline, &params, &[raw(&storage), out.raw()], grid(gpu, params[0].div_ceil(WORKGROUP)));
    Ok(())
}

//! Zero padding of NHWC tensors (`shaders/spatial.wgsl`).

use super::{buffer_of, contiguous_gpu, grid, launch, pipeline_entry, raw, u32_of, WORKGROUP};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

/// NHWC `x` of shape `[n, h, w, c]` padded with `top` rows and `left` columns of zeros before
/// (and zeros after, up to `out_h` x `out_w`).
///
/// # Errors
/// `Device` without a GPU, for a CPU operand, or past the kernel's index range.
pub fn zero_pad2d(op: &str, x: &Tensor, [n, h, w, c]: [usize; 4], top: usize, left: usize, out_h: usize, out_w: usize) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let count = n * out_h * out_w * c;
    let out = GpuBuffer::uninit(op, count)?;
    if count == 0 {
        return Ok(out);
    }
    let x = contiguous_gpu(op, x)?;
    let storage = buffer_of(op, &x)?;
    u32_of(op, "an element index", x.layout().offset + x.numel())?;
    let params = [count, h, w, c, out_h, out_w, top, left, x.layout().offset].into_iter().map(|v| u32_of(op, "a padding size", v)).collect::<Result<Vec<u32>>>()?;
    let pipeline = pipeline_entry(gpu, "spatial/zero_pad2d_f32", "zero_pad2d_f32", || include_str!("../shaders/spatial.wgsl").to_string());
    launch(gpu, &pipeline, &params, &[raw(&storage), out.raw()], grid(gpu, params[0].div_ceil(WORKGROUP)));
    Ok(out)
}

//! Max and average pooling (`shaders/pool.wgsl`), forward and backward. Max pooling's forward
//! also writes which input took each window's maximum; its backward gathers through that.

use super::{buffer_of, contiguous_gpu, grid, launch, pipeline_entry, raw, u32_of, WORKGROUP};
use crate::cpu::pool::PoolGeometry;
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

/// pool.wgsl behind the NaN test it uses (`variant::NAN`).
pub(crate) fn source() -> String {
    format!("{}\n{}", super::variant::NAN, include_str!("../shaders/pool.wgsl"))
}

/// Largest image (in_h * in_w) whose pixel indices the argmax holds exactly as f32.
const MAX_PIXELS: usize = 1 << 24;

fn params(op: &str, geo: &PoolGeometry, count: usize, src: &Tensor) -> Result<Vec<u32>> {
    if geo.in_h * geo.in_w > MAX_PIXELS {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {MAX_PIXELS} pixels per image for pooling on the GPU"), got: format!("{} x {}", geo.in_h, geo.in_w) });
    }
    let p = [
        geo.batch, geo.in_h, geo.in_w, geo.channels, geo.pool_h, geo.pool_w, geo.stride_h, geo.stride_w, geo.pad_top, geo.pad_left, geo.out_h, geo.out_w, count, src.layout().offset,
    ]
    .into_iter()
    .map(|v| u32_of(op, "a pooling size", v))
    .collect::<Result<Vec<u32>>>()?;
    for bound in [geo.batch * geo.in_h * geo.in_w * geo.channels, geo.out_len(), src.layout().offset + src.numel()] {
        u32_of(op, "an element index", bound)?;
    }
    Ok(p)
}

fn run(op: &str, entry: &'static str, geo: &PoolGeometry, src: &Tensor, outputs: &[&GpuBuffer], count: usize) -> Result<()> {
    let gpu = gpu(op)?;
    let src = contiguous_gpu(op, src)?;
    let params = params(op, geo, count, &src)?;
    if count == 0 {
        return Ok(());
    }
    let storage = buffer_of(op, &src)?;
    let pipeline = pipeline_entry(gpu, &format!("pool/{entry}"), entry, source);
    let mut buffers = vec![raw(&storage)];
    buffers.extend(outputs.iter().map(|b| b.raw()));
    launch(gpu, &pipeline, &params, &buffers, grid(gpu, u32_of(op, "an element count", count)?.div_ceil(WORKGROUP)));
    Ok(())
}

/// Max pooling of NHWC `x`: (values, argmax). The argmax holds, per output, the flat pixel
/// index (iy * in_w + ix) of the input that takes its gradient (the window's first maximum), or
/// -1 (a window holding NaN, as max pooling on the CPU).
///
/// # Errors
/// `Device` without a GPU, for a CPU operand, or past the kernel's index range.
pub fn max_pool(op: &str, x: &Tensor, geo: &PoolGeometry) -> Result<(GpuBuffer, GpuBuffer)> {
    let n = geo.out_len();
    let (values, argmax) = (GpuBuffer::uninit(op, n)?, GpuBuffer::uninit(op, n)?);
    run(op, "max_pool_f32", geo, x, &[&values, &argmax], n)?;
    Ok((values, argmax))
}

/// The gradient of max pooling: `g` (the output's gradient) gathered to the inputs `argmax`
/// (from `max_pool`) names.
///
/// # Errors
/// As `max_pool`.
pub fn max_pool_backward(op: &str, argmax: &Tensor, g: &Tensor, geo: &PoolGeometry) -> Result<GpuBuffer> {
    let n = geo.batch * geo.in_h * geo.in_w * geo.channels;
    let dx = GpuBuffer::uninit(op, n)?;
    let argmax = contiguous_gpu(op, argmax)?;
    let arg = buffer_of(op, &argmax)?;
    let gpu = gpu(op)?;
    let g = contiguous_gpu(op, g)?;
    let params = params(op, geo, n, &g)?;
    if n == 0 {
        return Ok(dx);
    }
    let storage = buffer_of(op, &g)?;
    let pipeline = pipeline_entry(gpu, "pool/max_pool_backward_f32", "max_pool_backward_f32", source);
    launch(gpu, &pipeline, &params, &[raw(&storage), dx.raw(), raw(&arg)], grid(gpu, u32_of(op, "an element count", n)?.div_ceil(WORKGROUP)));
    Ok(dx)
}

/// Average pooling of NHWC `x` over each window's real (unpadded) values.
///
/// # Errors
/// As `max_pool`.
pub fn average_pool(op: &str, x: &Tensor, geo: &PoolGeometry) -> Result<GpuBuffer> {
    let values = GpuBuffer::uninit(op, geo.out_len())?;
    run(op, "average_pool_f32", geo, x, &[&values], geo.out_len())?;
    Ok(values)
}

/// The gradient of average pooling: each output's gradient spread evenly over its window.
///
/// # Errors
/// As `max_pool`.
pub fn average_pool_backward(op: &str, g: &Tensor, geo: &PoolGeometry) -> Result<GpuBuffer> {
    let n = geo.batch * geo.in_h * geo.in_w * geo.channels;
    let dx = GpuBuffer::uninit(op, n)?;
    run(op, "average_pool_backward_f32", geo, g, &[&dx], n)?;
    Ok(dx)
}

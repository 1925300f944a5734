//! Shape-op kernels: the scatter behind getitem's backward.

use super::{buffer_of, contiguous_gpu, fill_buffer, grid, launch, pipeline, raw, u32_of, MAX_DIMS, WORKGROUP};
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::{Layout, Tensor};

/// A zeroed row-major buffer of `len` values with `g` written through `view` (a layout over that
/// buffer, of `g`'s shape, mapping no two elements to one place): the gradient of a slice.
///
/// # Errors
/// `Device` when there is no GPU, or a size or offset passes what the kernel indexes (u32, at
/// most `MAX_DIMS` axes).
pub fn scatter(op: &str, g: &Tensor, view: &Layout, len: usize) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let out = fill_buffer(op, GpuBuffer::uninit(op, len)?, 0.0)?;
    let n = g.numel();
    if n == 0 {
        return Ok(out);
    }
    if view.ndim() > MAX_DIMS {
        return Err(Error::value(op, format!("at most {MAX_DIMS} axes on the GPU"), format!("{} axes", view.ndim())));
    }
    let g = contiguous_gpu(op, g)?;
    let gs = buffer_of(op, &g)?;
    let mut params = vec![0u32; 24];
    params[0] = u32_of(op, "an element count", n)?;
    params[1] = view.ndim() as u32;
    params[2] = u32_of(op, "an offset", g.layout().offset)?;
    params[3] = u32_of(op, "an offset", view.offset)?;
    for (d, (&dim, &stride)) in view.shape.iter().zip(&view.strides).enumerate() {
        params[8 + d] = dim as u32;
        params[16 + d] = i32::try_from(stride).map_err(|_| Error::value(op, "strides below 2^31 on the GPU", stride.to_string()))? as u32;
    }
    let pipeline = pipeline(gpu, "scatter", || include_str!("../shaders/shape.wgsl").to_string());
    launch(gpu, &pipeline, &params, &[raw(&gs), out.raw()], grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use wgpu::naga;

    #[test]
    fn shape_shader_validates_with_naga() {
        let src = include_str!("../shaders/shape.wgsl");
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{}", e.emit_to_string(src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all()).validate(&module).unwrap_or_else(|e| panic!("{e:?}"));
    }
}

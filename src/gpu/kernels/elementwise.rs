//! The elementwise kernel: any expression over up to three strided, broadcast inputs.

use super::{buffer_of, grid, launch, pipeline, raw, u32_of, MAX_DIMS, WORKGROUP};
use crate::error::{Error, Result};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

/// `out[i] = expr(x0, x1, x2, s0..s3)` over `out_shape`, each input broadcast to it through its
/// strides. `key` names the expression (it keys the pipeline cache).
/// The expression may call the helpers in `shaders/elementwise.wgsl` (sigm, expm1_, erf_, ...).
pub fn elementwise(op: &str, key: &str, expr: &str, inputs: &[&Tensor], out_shape: &[usize], scalars: [f32; 4]) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let n = out_shape.iter().product::<usize>();
    let out = GpuBuffer::uninit(op, n)?;
    if n == 0 {
        return Ok(out);
    }
    if out_shape.len() > MAX_DIMS {
        return Err(Error::value(op, format!("at most {MAX_DIMS} axes on the GPU"), format!("{} axes", out_shape.len())));
    }
    let storages = inputs.iter().map(|t| buffer_of(op, t)).collect::<Result<Vec<_>>>()?;
    // Row-major inputs of the output's shape index by `i` alone: no division per axis.
    let flat = inputs.iter().all(|t| t.shape() == out_shape && t.layout().is_contiguous());
    let mut params = vec![0u32; 16 + MAX_DIMS * 4];
    params[0] = u32_of(op, "an element count", n)?;
    params[1] = out_shape.len() as u32;
    for (k, s) in scalars.iter().enumerate() {
        params[5 + k] = s.to_bits();
    }
    for (d, &len) in out_shape.iter().enumerate() {
        params[16 + d] = len as u32;
    }
    for (k, t) in inputs.iter().enumerate() {
        let layout = t.layout();
        params[2 + k] = u32_of(op, "an offset", layout.offset)?;
        // Align the input's axes to the output's trailing axes (NumPy broadcasting); missing
        // leading axes and length-1 axes read with stride 0.
        let lead = out_shape.len() - layout.ndim();
        for d in 0..layout.ndim() {
            let stride = if layout.shape[d] == 1 { 0 } else { layout.strides[d] };
            params[24 + 8 * k + lead + d] = (stride as i32) as u32;
        }
    }
    let arity = inputs.len();
    let key = format!("elementwise/{arity}/{flat}/{key}");
    let pipeline = pipeline(gpu, &key, || {
        let mut decl = String::new();
        for k in 0..arity {
            decl += &format!("@group(0) @binding({}) var<storage, read> x{k}_buf: array<f32>;\n", k + 1);
        }
        decl += &format!("@group(0) @binding({}) var<storage, read_write> out: array<f32>;\n", arity + 1);
        let index = if flat || arity == 0 {
            String::new()
        } else {
            let mut s = String::from("var rem = i;\n    for (var d = i32(p[1]) - 1; d >= 0; d--) {\n        let len = p[16u + u32(d)];\n        let coord = i32(rem % len);\n        rem = rem / len;\n");
            for k in 0..arity {
                s += &format!("        offs[{k}] += coord * bitcast<i32>(p[{}u + u32(d)]);\n", 24 + 8 * k);
            }
            s + "    }"
        };
        let loads: String = (0..arity)
            .map(|k| if flat { format!("let x{k} = x{k}_buf[i + p[{}]];\n    ", 2 + k) } else { format!("let x{k} = x{k}_buf[u32(offs[{k}])];\n    ") })
            .collect();
        concat!(include_str!("../shaders/math.wgsl"), include_str!("../shaders/elementwise.wgsl"))
            .replace("{{INPUTS}}", &decl)
            .replace("{{INDEX}}", &index)
            .replace("{{LOADS}}", &loads)
            .replace("{{EXPR}}", expr)
    });
    let buffers: Vec<&wgpu::Buffer> = storages.iter().map(|s| raw(s)).chain(std::iter::once(out.raw())).collect();
    launch(gpu, &pipeline, &params, &buffers, grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}


/// Zeros of `total` elements with `g` (row-major from element 0, `view.numel()` values) written
/// through `view`'s offset and strides: the gradient of a basic-indexing view.
pub fn scatter_into_view(op: &str, g: &Tensor, view: &crate::tensor::Layout, total: usize) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let out = super::fill_buffer(op, GpuBuffer::uninit(op, total)?, 0.0)?;
    let n = view.numel();
    if n == 0 {
        return Ok(out);
    }
    if view.ndim() > MAX_DIMS {
        return Err(Error::value(op, format!("at most {MAX_DIMS} axes on the GPU"), format!("{} axes", view.ndim())));
    }
    let g = super::contiguous_from_start(op, g)?;
    let gs = buffer_of(op, &g)?;
    let mut params = vec![0u32; 12 + MAX_DIMS];
    params[0] = u32_of(op, "an element count", n)?;
    params[1] = view.ndim() as u32;
    params[2] = u32_of(op, "an offset", view.offset)?;
    for d in 0..view.ndim() {
        params[4 + d] = view.shape[d] as u32;
        params[12 + d] = (view.strides[d] as i32) as u32;
    }
    let pipeline = pipeline(gpu, "scatter_into_view", || include_str!("../shaders/scatter.wgsl").to_string());
    launch(gpu, &pipeline, &params, &[raw(&gs), out.raw()], grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

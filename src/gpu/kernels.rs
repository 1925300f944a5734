//! Launching the WGSL kernels: pipelines compiled once per shader variant and cached, and one
//! function per kernel family that takes tensors (any layout the kernel can read) and returns a
//! new buffer. Shapes are checked by the ops before they get here.

use super::buffer::GpuBuffer;
use super::context::{gpu, Gpu};
use crate::error::{Error, Result};
use crate::tensor::{Storage, Tensor};
use std::sync::Arc;

/// Axes the strided kernels index (tensors with more are copied to row-major first).
pub const MAX_DIMS: usize = 8;
const WORKGROUP: u32 = 256;

/// The pipeline for `key`, compiling `source()` the first time.
fn pipeline(gpu: &Gpu, key: &str, source: impl FnOnce() -> String) -> Arc<wgpu::ComputePipeline> {
    if let Some(p) = gpu.pipelines.lock().get(key) {
        return p.clone();
    }
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(key), source: wgpu::ShaderSource::Wgsl(source().into()) });
    let pipeline = Arc::new(gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(key),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    }));
    gpu.pipelines.lock().insert(key.to_string(), pipeline.clone());
    pipeline
}

/// Workgroups for `groups` in total, folded into two dimensions past the per-dimension limit.
fn grid(gpu: &Gpu, groups: u32) -> [u32; 3] {
    let max = gpu.max_groups().max(1);
    if groups <= max {
        [groups, 1, 1]
    } else {
        [max, groups.div_ceil(max), 1]
    }
}

fn launch(gpu: &Gpu, pipeline: &wgpu::ComputePipeline, params: &[u32], buffers: &[&wgpu::Buffer], groups: [u32; 3]) {
    gpu.recorder.lock().dispatch(gpu, pipeline, params, buffers, groups);
}

/// The GPU buffer behind `t`, or a `Device` error naming `op`.
pub fn buffer_of(op: &str, t: &Tensor) -> Result<Arc<Storage>> {
    let s = t.storage();
    match &*s {
        Storage::Gpu(_) => Ok(s),
        Storage::Cpu(_) => Err(Error::Device { op: op.to_string(), expected: "a tensor on gpu".into(), got: "one on cpu".into() }),
    }
}

fn raw(s: &Storage) -> &wgpu::Buffer {
    match s {
        Storage::Gpu(b) => b.raw(),
        Storage::Cpu(_) => unreachable!("checked by buffer_of"),
    }
}

fn u32_of(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Device { op: op.to_string(), expected: format!("{what} below 2^32 on the GPU"), got: v.to_string() })
}

// ---- elementwise ---------------------------------------------------------------------------

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
        include_str!("shaders/elementwise.wgsl")
            .replace("{{INPUTS}}", &decl)
            .replace("{{INDEX}}", &index)
            .replace("{{LOADS}}", &loads)
            .replace("{{EXPR}}", expr)
    });
    let buffers: Vec<&wgpu::Buffer> = storages.iter().map(|s| raw(s)).chain(std::iter::once(out.raw())).collect();
    launch(gpu, &pipeline, &params, &buffers, grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

// ---- row reductions, softmax -----------------------------------------------------------------

/// How `reduce_rows` combines a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowReduce {
    Sum,
    Mean,
    Max,
}

/// One value per row of the row-major `(rows, cols)` matrix in `x` (which must be contiguous).
pub fn reduce_rows(op: &str, x: &Tensor, rows: usize, cols: usize, how: RowReduce) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let xs = buffer_of(op, &contiguous_gpu(op, x)?)?;
    let out = GpuBuffer::uninit(op, rows)?;
    let (combine, identity) = match how {
        RowReduce::Sum | RowReduce::Mean => ("a + b", "0.0"),
        // NaN-propagating max, as NumPy's.
        RowReduce::Max => ("select(max(a, b), a + b, a != a || b != b)", "-3.4028235e38 * 2.0"),
    };
    let scale = if how == RowReduce::Mean { 1.0 / cols as f32 } else { 1.0 };
    let key = format!("reduce_rows/{how:?}");
    let pipeline = pipeline(gpu, &key, || include_str!("shaders/reduce_rows.wgsl").replace("{{COMBINE}}", combine).replace("{{IDENTITY}}", identity));
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?, scale.to_bits()];
    launch(gpu, &pipeline, &params, &[raw(&xs), out.raw()], grid(gpu, rows as u32));
    Ok(out)
}

/// Softmax (or log-softmax) of each row of the row-major `(rows, cols)` matrix in `x`.
pub fn softmax_rows(op: &str, x: &Tensor, rows: usize, cols: usize, log: bool) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let xs = buffer_of(op, &contiguous_gpu(op, x)?)?;
    let out = GpuBuffer::uninit(op, rows * cols)?;
    let pipeline = pipeline(gpu, &format!("softmax/{log}"), || include_str!("shaders/softmax.wgsl").replace("{{LOG}}", if log { "true" } else { "false" }));
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?];
    launch(gpu, &pipeline, &params, &[raw(&xs), out.raw()], grid(gpu, rows as u32));
    Ok(out)
}

// ---- GEMM -------------------------------------------------------------------------------------

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
    let pipeline = pipeline(gpu, "gemm", || include_str!("shaders/gemm.wgsl").to_string());
    let max = gpu.max_groups();
    if batches as u64 > max as u64 || m.div_ceil(64) as u64 > max as u64 || n.div_ceil(64) as u64 > max as u64 {
        return Err(Error::Device { op: op.to_string(), expected: format!("at most {max} tiles per grid axis"), got: format!("({batches}, {m}, {n})") });
    }
    launch(gpu, &pipeline, &params, &[raw(&sa), raw(&sb), out.raw()], [n.div_ceil(64) as u32, m.div_ceil(64) as u32, batches as u32]);
    Ok(out)
}

/// Every element of `out` set to `value`.
pub fn fill_buffer(op: &str, out: GpuBuffer, value: f32) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let n = out.len();
    if n == 0 {
        return Ok(out);
    }
    let pipeline = pipeline(gpu, "fill", || {
        "@group(0) @binding(0) var<storage, read> p: array<u32>;\n@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n\
         @compute @workgroup_size(256)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {\n\
         let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;\n if (i < p[0]) { out[i] = bitcast<f32>(p[1]); }\n}\n"
            .to_string()
    });
    launch(gpu, &pipeline, &[u32_of(op, "an element count", n)?, value.to_bits()], &[out.raw()], grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

/// `t` itself when row-major, else a row-major copy on the GPU.
pub fn contiguous_gpu(op: &str, t: &Tensor) -> Result<Tensor> {
    if t.layout().is_contiguous() {
        return Ok(t.clone());
    }
    let buf = elementwise(op, "copy", "x0", &[t], t.shape(), [0.0; 4])?;
    Ok(Tensor::from_storage(crate::tensor::Layout::contiguous(t.shape()), Arc::new(Storage::Gpu(buf))))
}

//! Launching the WGSL kernels: pipelines compiled once per shader variant and cached, and one
//! module per kernel family whose functions take tensors (any layout the kernel can read) and
//! return a new buffer. Shapes are checked by the ops before they get here.

mod concat;
mod conv;
mod elementwise;
mod embedding;
mod gemm;
mod noise;
mod norm;
pub mod optimizer;
mod pool;
mod reduce;
pub mod recurrent;
mod spatial;
pub(crate) mod variant;

pub use concat::concatenate_into;
pub use conv::{conv2d_pass, conv2d_pass_fused, ConvPass};
#[cfg(test)]
pub(crate) use pool::source as pool_shader_source;
#[cfg(test)]
pub(crate) use conv::{plain_epilogue as conv_plain_epilogue, shader_source as conv_shader_source, TILE_VARIANTS as CONV_TILE_VARIANTS};
pub use elementwise::{elementwise, scatter_into_view};
pub use embedding::{embedding_backward, embedding_gather};
pub use gemm::{dense, gemm, MatView};
pub use noise::{dropout_mask, normal};
pub use norm::{batch_norm_apply, batch_norm_backward, batch_norm_stats, concat_flat, filled, layer_norm_backward, layer_norm_forward, moving_average, part, ChannelSplit};
pub use pool::{average_pool, average_pool_backward, max_pool, max_pool_backward};
pub use reduce::{argmax_rows, reduce_rows, softmax_rows, RowReduce};
pub use spatial::zero_pad2d;
pub use variant::use_portable_kernels;

use super::buffer::GpuBuffer;
use super::context::{gpu, Gpu};
use crate::error::{Error, Result};
use crate::tensor::{Storage, Tensor};
use std::sync::Arc;

/// Axes the strided kernels index (tensors with more are copied to row-major first).
pub const MAX_DIMS: usize = 8;
pub(crate) const WORKGROUP: u32 = 256;

/// The pipeline for `key`, compiling `source()` the first time.
pub(crate) fn pipeline(gpu: &Gpu, key: &str, source: impl FnOnce() -> String) -> Arc<wgpu::ComputePipeline> {
    pipeline_entry(gpu, key, "main", source)
}

/// The pipeline of entry point `entry` in `source()` (a family's shader file holds several; each
/// pipeline's bind group layout is derived from the bindings its own entry point uses).
pub(crate) fn pipeline_entry(gpu: &Gpu, key: &str, entry: &str, source: impl FnOnce() -> String) -> Arc<wgpu::ComputePipeline> {
    if let Some(p) = gpu.pipelines.lock().get(key) {
        return p.clone();
    }
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(key), source: wgpu::ShaderSource::Wgsl(source().into()) });
    let pipeline = Arc::new(gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(key),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    }));
    gpu.pipelines.lock().insert(key.to_string(), pipeline.clone());
    pipeline
}

/// Workgroups for `groups` in total, folded into two dimensions past the per-dimension limit.
pub(crate) fn grid(gpu: &Gpu, groups: u32) -> [u32; 3] {
    let max = gpu.max_groups().max(1);
    if groups <= max {
        [groups, 1, 1]
    } else {
        [max, groups.div_ceil(max), 1]
    }
}

pub(crate) fn launch(gpu: &Gpu, pipeline: &wgpu::ComputePipeline, params: &[u32], buffers: &[&wgpu::Buffer], groups: [u32; 3]) {
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

pub(crate) fn raw(s: &Storage) -> &wgpu::Buffer {
    match s {
        Storage::Gpu(b) => b.raw(),
        Storage::Cpu(_) => unreachable!("checked by buffer_of"),
    }
}

pub(crate) fn u32_of(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Device { op: op.to_string(), expected: format!("{what} below 2^32 on the GPU"), got: v.to_string() })
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

/// `t` itself when row-major, else a row-major copy on the GPU. The result may start partway
/// into its buffer (its layout's offset); kernels that index from element 0 use
/// `contiguous_from_start`.
pub fn contiguous_gpu(op: &str, t: &Tensor) -> Result<Tensor> {
    if t.layout().is_contiguous() {
        return Ok(t.clone());
    }
    copy_gpu(op, t)
}

/// `t` itself when row-major from its buffer's first element, else such a copy.
pub fn contiguous_from_start(op: &str, t: &Tensor) -> Result<Tensor> {
    if t.layout().is_contiguous() && t.layout().offset == 0 {
        return Ok(t.clone());
    }
    copy_gpu(op, t)
}

fn copy_gpu(op: &str, t: &Tensor) -> Result<Tensor> {
    let buf = elementwise(op, "copy", "x0", &[t], t.shape(), [0.0; 4])?;
    Ok(Tensor::from_gpu(buf, t.shape()))
}

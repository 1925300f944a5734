//! Embedding kernels (`shaders/embedding.wgsl`): the row gather and its deterministic backward.
//! The op (`src/ops/embedding.rs`) checks the indices on the host first.

use super::{buffer_of, grid, launch, pipeline, raw, u32_of, WORKGROUP};
use super::norm::from_start;
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::{gpu, Gpu};
use crate::tensor::Tensor;
use std::sync::Arc;

const SOURCE: &str = include_str!("../shaders/embedding.wgsl");

/// The pipeline of one entry point of `shaders/embedding.wgsl`, compiled as the module's `main`.
fn kernel(gpu: &Gpu, entry: &str) -> Arc<wgpu::ComputePipeline> {
    pipeline(gpu, &format!("embedding/{entry}"), || SOURCE.replace(&format!("fn {entry}("), "fn main("))
}

/// `table[indices]` as `(n, dim)` rows: `indices` holds `n` whole numbers in `[0, rows)` (checked
/// by the caller), `table` is `(rows, dim)`.
pub fn embedding_gather(op: &str, indices: &Tensor, table: &Tensor, dim: usize) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let total = indices.numel() * dim;
    let params = [u32_of(op, "an element count", total)?, u32_of(op, "the embedding width", dim)?];
    let (indices, table) = (buffer_of(op, &from_start(op, indices)?)?, buffer_of(op, &from_start(op, table)?)?);
    let out = GpuBuffer::uninit(op, total)?;
    launch(gpu, &kernel(gpu, "embedding_f32"), &params, &[raw(&indices), raw(&table), out.raw()], grid(gpu, params[0].div_ceil(WORKGROUP)));
    Ok(out)
}

/// The table gradient `(rows, dim)`: the rows of `g` (`(n, dim)`) summed into the table rows
/// that `idx` picked, in output-row order (no atomics, so the sums are deterministic).
pub fn embedding_backward(op: &str, g: &Tensor, idx: &[usize], rows: usize, dim: usize) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let total = rows * dim;
    let params = [u32_of(op, "an element count", total)?, u32_of(op, "the embedding width", dim)?];
    u32_of(op, "an index count", idx.len())?;
    // Counting sort of the output rows by table row: starts (rows + 1) and positions (n).
    let mut starts = vec![0u32; rows + 1];
    for &i in idx {
        starts[i + 1] += 1;
    }
    for t in 0..rows {
        starts[t + 1] += starts[t];
    }
    let mut next = starts.clone();
    let mut positions = vec![0u32; idx.len()];
    for (r, &i) in idx.iter().enumerate() {
        positions[next[i] as usize] = r as u32;
        next[i] += 1;
    }
    // u32 bit patterns in f32 buffers (the shader declares them array<u32>; no float op touches them).
    let bits = |v: &[u32]| v.iter().map(|&u| f32::from_bits(u)).collect::<Vec<f32>>();
    let starts = GpuBuffer::upload(op, &bits(&starts))?;
    let positions = GpuBuffer::upload(op, &bits(&positions))?;
    let g = buffer_of(op, &from_start(op, g)?)?;
    let out = GpuBuffer::uninit(op, total)?;
    launch(gpu, &kernel(gpu, "embedding_backward_f32"), &params, &[raw(&g), starts.raw(), positions.raw(), out.raw()], grid(gpu, params[0].div_ceil(WORKGROUP)));
    Ok(out)
}

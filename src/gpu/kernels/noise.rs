//! Random tensors for the noise layers (`shaders/noise.wgsl`): Philox-4x32-10 keyed by a seed,
//! one counter per element, so masks are made on the GPU and a seed reproduces them.

use super::{grid, launch, pipeline, u32_of, WORKGROUP};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::{gpu, Gpu};
use std::sync::Arc;

const SOURCE: &str = include_str!("../shaders/noise.wgsl");

/// The pipeline of one entry point of `shaders/noise.wgsl`, compiled as the module's `main`.
fn kernel(gpu: &Gpu, entry: &str) -> Arc<wgpu::ComputePipeline> {
    pipeline(gpu, &format!("noise/{entry}"), || SOURCE.replace(&format!("fn {entry}("), "fn main("))
}

fn random(op: &str, entry: &str, n: usize, seed: u64, a: f32, b: f32) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let out = GpuBuffer::uninit(op, n)?;
    let params = [u32_of(op, "an element count", n)?, seed as u32, (seed >> 32) as u32, a.to_bits(), b.to_bits()];
    launch(gpu, &kernel(gpu, entry), &params, &[out.raw()], grid(gpu, params[0].div_ceil(WORKGROUP)));
    Ok(out)
}

/// `n` inverted-dropout mask values: `keep_scale` with probability `1 - rate`, else 0.
pub fn dropout_mask(op: &str, n: usize, seed: u64, rate: f32, keep_scale: f32) -> Result<GpuBuffer> {
    random(op, "dropout_mask_f32", n, seed, rate, keep_scale)
}

/// `n` draws from the normal distribution `mean + stddev * N(0, 1)`.
pub fn normal(op: &str, n: usize, seed: u64, mean: f32, stddev: f32) -> Result<GpuBuffer> {
    random(op, "normal_f32", n, seed, mean, stddev)
}

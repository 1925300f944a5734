//! Batch and layer normalisation kernels (`shaders/norm.wgsl`): statistics, the normalised output,
//! and the backward sums and input gradient. The ops in `src/ops/norm.rs` check shapes first.

use super::{buffer_of, contiguous_from_start, elementwise, fill_buffer, grid, launch, pipeline, raw, u32_of, variant, WORKGROUP};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::{gpu, Gpu};
use crate::tensor::{Layout, Tensor};
use std::sync::Arc;

const SOURCE: &str = include_str!("../shaders/norm.wgsl");

/// The pipeline of one entry point of `shaders/norm.wgsl`, compiled as the module's `main` (with
/// its workgroup sums over subgroups where the adapter has them).
fn kernel(gpu: &Gpu, entry: &str) -> Arc<wgpu::ComputePipeline> {
    let sg = variant::subgroups(gpu);
    pipeline(gpu, &variant::key(&format!("norm/{entry}"), "subgroups", sg), || variant::with_workgroup_reduce(&SOURCE.replace(&format!("fn {entry}("), "fn main("), sg))
}

/// `len` copies of `value` on the GPU (gamma and beta when the layer has none).
pub fn filled(op: &str, len: usize, value: f32) -> Result<Tensor> {
    Ok(Tensor::from_gpu(fill_buffer(op, GpuBuffer::uninit(op, len)?, value)?, &[len]))
}

/// The parts one after the other in a new buffer (recorded copies; each part row-major).
///
/// # Errors
/// `Device` when a part is not on the GPU or the result does not fit.
pub fn concat_flat(op: &str, parts: &[&Tensor]) -> Result<Tensor> {
    let gpu = gpu(op)?;
    let total = parts.iter().map(|t| t.numel()).sum::<usize>();
    let out = GpuBuffer::uninit(op, total)?;
    let mut at = 0u64;
    for part in parts {
        let part = contiguous_from_start(op, part)?;
        let storage = buffer_of(op, &part)?;
        let bytes = part.numel() as u64 * 4;
        gpu.recorder.lock().copy(gpu, raw(&storage), 0, out.raw(), at, bytes);
        at += bytes;
    }
    Ok(Tensor::from_gpu(out, &[total]))
}

/// `len` values of `t` (row-major, 1-D) from element `start`, as a view sharing its buffer.
pub fn part(t: &Tensor, start: usize, len: usize) -> Tensor {
    let layout = Layout { shape: vec![len], strides: vec![1], offset: t.layout().offset + start };
    Tensor::from_storage(layout, t.storage())
}

/// The shape of batch-normalised data: `(outer, channels, inner)` around the channel axis.
#[derive(Clone, Copy, Debug)]
pub struct ChannelSplit {
    pub outer: usize,
    pub channels: usize,
    pub inner: usize,
}

/// Elements of one channel that one workgroup reduces in the first level (16 per thread).
const CHUNK: usize = 4096;
/// Rows of one 64-column tile that one workgroup reduces for gamma's and beta's gradients.
const CHUNK_ROWS: usize = 256;

impl ChannelSplit {
    fn numel(&self) -> usize {
        self.outer * self.channels * self.inner
    }

    /// Chunks per channel of the two-level reductions, and the workgroups of the first level.
    fn chunks(&self, op: &str) -> Result<(u32, u32)> {
        let chunks = (self.outer * self.inner).div_ceil(CHUNK);
        Ok((u32_of(op, "chunks", chunks)?, u32_of(op, "workgroups", chunks * self.channels)?))
    }

    fn params(&self, op: &str) -> Result<[u32; 3]> {
        u32_of(op, "an element count", self.numel())?;
        Ok([u32_of(op, "the batch size", self.outer)?, u32_of(op, "channels", self.channels)?, u32_of(op, "the inner size", self.inner)?])
    }
}

/// Per-channel mean and biased variance of `x`: `2 * channels` values, the means first.
/// Two levels: (count, mean, M2) per chunk of a channel, then the chunks combined per channel.
pub fn batch_norm_stats(op: &str, x: &Tensor, split: ChannelSplit) -> Result<Tensor> {
    let gpu = gpu(op)?;
    let x = buffer_of(op, &contiguous_from_start(op, x)?)?;
    let [outer, channels, inner] = split.params(op)?;
    let (chunks, groups) = split.chunks(op)?;
    let partial = GpuBuffer::uninit(op, 3 * groups as usize)?;
    let params = [outer, channels, inner, CHUNK as u32, chunks];
    launch(gpu, &kernel(gpu, "batch_norm_partial_stats_f32"), &params, &[raw(&x), partial.raw()], grid(gpu, groups));
    let out = GpuBuffer::uninit(op, 2 * split.channels)?;
    launch(gpu, &kernel(gpu, "batch_norm_stats_f32"), &[channels, chunks], &[partial.raw(), out.raw()], grid(gpu, channels.div_ceil(WORKGROUP)));
    Ok(Tensor::from_gpu(out, &[2 * split.channels]))
}

/// `gamma * (x - mean) / sqrt(variance + epsilon) + beta` per channel, from packed `stats`.
pub fn batch_norm_apply(op: &str, x: &Tensor, stats: &Tensor, gamma: &Tensor, beta: &Tensor, split: ChannelSplit, epsilon: f32) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let n = split.numel();
    let out = GpuBuffer::uninit(op, n)?;
    let [_, channels, inner] = split.params(op)?;
    let buffers = [x, stats, gamma, beta].into_iter().map(|t| buffer_of(op, &contiguous_from_start(op, t)?)).collect::<Result<Vec<_>>>()?;
    let mut bindings: Vec<&wgpu::Buffer> = buffers.iter().map(|s| raw(s)).collect();
    bindings.push(out.raw());
    let params = [n as u32, channels, inner, epsilon.to_bits()];
    launch(gpu, &kernel(gpu, "batch_norm_apply_f32"), &params, &bindings, grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

/// The batch-norm backward: `(dx, sum of g, sum of g * xhat)`, the sums per channel (the
/// gradients of beta and gamma). `training`: the statistics came from this batch.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(op: &str, g: &Tensor, x: &Tensor, stats: &Tensor, gamma: &Tensor, split: ChannelSplit, epsilon: f32, training: bool) -> Result<(GpuBuffer, GpuBuffer, GpuBuffer)> {
    let gpu = gpu(op)?;
    let n = split.numel();
    let params = split.params(op)?;
    let [g, x, stats, gamma] = [g, x, stats, gamma].map(|t| contiguous_from_start(op, t).and_then(|t| buffer_of(op, &t)));
    let (g, x, stats, gamma) = (g?, x?, stats?, gamma?);
    let (chunks, groups) = split.chunks(op)?;
    let partial = GpuBuffer::uninit(op, 2 * groups as usize)?;
    let partial_params = [params[0], params[1], params[2], CHUNK as u32, chunks, epsilon.to_bits()];
    launch(gpu, &kernel(gpu, "batch_norm_backward_partial_f32"), &partial_params, &[raw(&g), raw(&x), raw(&stats), partial.raw()], grid(gpu, groups));
    let (sum_g, sum_gx) = (GpuBuffer::uninit(op, split.channels)?, GpuBuffer::uninit(op, split.channels)?);
    let sums = [partial.raw(), sum_g.raw(), sum_gx.raw()];
    launch(gpu, &kernel(gpu, "batch_norm_backward_sums_f32"), &[params[1], chunks], &sums, grid(gpu, params[1].div_ceil(WORKGROUP)));
    let dx = GpuBuffer::uninit(op, n)?;
    let count = (split.outer * split.inner).max(1) as f32;
    let input_params = [n as u32, params[1], params[2], epsilon.to_bits(), count.to_bits(), u32::from(training)];
    let input = [raw(&g), raw(&x), raw(&stats), raw(&gamma), sum_g.raw(), sum_gx.raw(), dx.raw()];
    launch(gpu, &kernel(gpu, "batch_norm_backward_input_f32"), &input_params, &input, grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok((dx, sum_g, sum_gx))
}

/// Layer normalisation of the `(rows, width)` matrix `x`: the output and the row statistics
/// (`2 * rows` values: the means, then `1 / sqrt(variance + epsilon)`).
pub fn layer_norm_forward(op: &str, x: &Tensor, gamma: &Tensor, beta: &Tensor, rows: usize, width: usize, epsilon: f32) -> Result<(GpuBuffer, Tensor)> {
    let gpu = gpu(op)?;
    u32_of(op, "an element count", rows * width)?;
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "the width", width)?, epsilon.to_bits()];
    let [x, gamma, beta] = [x, gamma, beta].map(|t| contiguous_from_start(op, t).and_then(|t| buffer_of(op, &t)));
    let (x, gamma, beta) = (x?, gamma?, beta?);
    let out = GpuBuffer::uninit(op, rows * width)?;
    let stats = GpuBuffer::uninit(op, 2 * rows)?;
    launch(gpu, &kernel(gpu, "layer_norm_forward_f32"), &params, &[raw(&x), raw(&gamma), raw(&beta), out.raw(), stats.raw()], grid(gpu, params[0]));
    Ok((out, Tensor::from_gpu(stats, &[2 * rows])))
}

/// The layer-norm backward from the forward's row statistics: `(dx, dgamma, dbeta)`.
pub fn layer_norm_backward(op: &str, g: &Tensor, x: &Tensor, stats: &Tensor, gamma: &Tensor, rows: usize, width: usize) -> Result<(GpuBuffer, GpuBuffer, GpuBuffer)> {
    let gpu = gpu(op)?;
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "the width", width)?];
    let [g, x, stats, gamma] = [g, x, stats, gamma].map(|t| contiguous_from_start(op, t).and_then(|t| buffer_of(op, &t)));
    let (g, x, stats, gamma) = (g?, x?, stats?, gamma?);
    let dx = GpuBuffer::uninit(op, rows * width)?;
    launch(gpu, &kernel(gpu, "layer_norm_backward_input_f32"), &params, &[raw(&g), raw(&x), raw(&stats), raw(&gamma), dx.raw()], grid(gpu, params[0]));
    // gamma's and beta's gradients: column sums in two levels (64-column tiles of CHUNK_ROWS rows,
    // then the chunks in order), so a few wide columns still fill the GPU.
    let (tiles, chunks) = (width.div_ceil(64), rows.div_ceil(CHUNK_ROWS));
    let partial = GpuBuffer::uninit(op, 2 * width * chunks)?;
    let partial_params = [params[0], params[1], CHUNK_ROWS as u32, u32_of(op, "column tiles", tiles)?];
    launch(gpu, &kernel(gpu, "layer_norm_backward_partial_f32"), &partial_params, &[raw(&g), raw(&x), raw(&stats), partial.raw()], grid(gpu, u32_of(op, "workgroups", tiles * chunks)?));
    let (dgamma, dbeta) = (GpuBuffer::uninit(op, width)?, GpuBuffer::uninit(op, width)?);
    let sums_params = [params[1], u32_of(op, "chunks", chunks)?];
    launch(gpu, &kernel(gpu, "layer_norm_backward_params_f32"), &sums_params, &[partial.raw(), dgamma.raw(), dbeta.raw()], grid(gpu, params[1].div_ceil(WORKGROUP)));
    Ok((dx, dgamma, dbeta))
}

/// `moving * momentum + batch * (1 - momentum)`: the moving-average update of a statistic.
pub fn moving_average(op: &str, moving: &Tensor, batch: &Tensor, momentum: f32) -> Result<GpuBuffer> {
    elementwise(op, "moving_average", "x0 * s0 + x1 * s1", &[moving, batch], moving.shape(), [momentum, 1.0 - momentum, 0.0, 0.0])
}

#[cfg(test)]
mod tests {
    use wgpu::naga;

    /// Parse and validate a shader with naga (no adapter needed); its entry point names.
    fn entry_points(source: &str) -> Vec<String> {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{e:?}"));
        module.entry_points.iter().map(|e| e.name.clone()).collect()
    }

    #[test]
    fn norm_embedding_noise_shaders_validate_with_their_entry_points() {
        // The portable variant; kernels/variant.rs validates the subgroup one.
        let norm = super::variant::with_workgroup_reduce(super::SOURCE, false);
        let families: [(&str, &[&str]); 3] = [
            (
                &norm,
                &[
                    "batch_norm_partial_stats_f32",
                    "batch_norm_stats_f32",
                    "batch_norm_apply_f32",
                    "batch_norm_backward_partial_f32",
                    "batch_norm_backward_sums_f32",
                    "batch_norm_backward_input_f32",
                    "layer_norm_forward_f32",
                    "layer_norm_backward_input_f32",
                    "layer_norm_backward_partial_f32",
                    "layer_norm_backward_params_f32",
                ],
            ),
            (include_str!("../shaders/embedding.wgsl"), &["embedding_f32", "embedding_backward_f32"]),
            (include_str!("../shaders/noise.wgsl"), &["dropout_mask_f32", "normal_f32"]),
        ];
        for (source, kernels) in families {
            let found = entry_points(source);
            for kernel in kernels {
                assert!(found.iter().any(|f| f == kernel), "no entry point {kernel} in {found:?}");
                // What `kernel()` compiles: the same module with that entry point renamed `main`.
                let renamed = source.replace(&format!("fn {kernel}("), "fn main(");
                assert!(entry_points(&renamed).iter().any(|f| f == "main"));
            }
        }
    }
}

//! Row reductions (sum, mean, max) and row softmax: one workgroup per row, combined with
//! subgroup operations where the adapter has them (`variant`).

use super::{buffer_of, contiguous_from_start, grid, launch, pipeline, raw, u32_of, variant};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Tensor;

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
    let xs = buffer_of(op, &contiguous_from_start(op, x)?)?;
    let out = GpuBuffer::uninit(op, rows)?;
    let scale = if how == RowReduce::Mean { 1.0 / cols as f32 } else { 1.0 };
    let is_max = how == RowReduce::Max;
    let sg = variant::subgroups(gpu);
    let pipeline = pipeline(gpu, &variant::key(&format!("reduce_rows/{is_max}"), "subgroups", sg), || {
        variant::with_workgroup_reduce(&include_str!("../shaders/reduce_rows.wgsl").replace("{{IS_MAX}}", if is_max { "true" } else { "false" }), sg)
    });
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?, scale.to_bits()];
    launch(gpu, &pipeline, &params, &[raw(&xs), out.raw()], grid(gpu, rows as u32));
    Ok(out)
}

/// Softmax (or log-softmax) of each row of the row-major `(rows, cols)` matrix in `x`.
pub fn softmax_rows(op: &str, x: &Tensor, rows: usize, cols: usize, log: bool) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let xs = buffer_of(op, &contiguous_from_start(op, x)?)?;
    let out = GpuBuffer::uninit(op, rows * cols)?;
    let sg = variant::subgroups(gpu);
    let pipeline = pipeline(gpu, &variant::key(&format!("softmax/{log}"), "subgroups", sg), || {
        variant::with_workgroup_reduce(&include_str!("../shaders/softmax.wgsl").replace("{{LOG}}", if log { "true" } else { "false" }), sg)
    });
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?];
    launch(gpu, &pipeline, &params, &[raw(&xs), out.raw()], grid(gpu, rows as u32));
    Ok(out)
}

/// The maximum of each row of the row-major `(rows, cols)` matrix in `x` and the index of its
/// first occurrence (as f32), as the CPU's `max_axis` chooses it.
pub fn argmax_rows(op: &str, x: &Tensor, rows: usize, cols: usize) -> Result<(GpuBuffer, GpuBuffer)> {
    let gpu = gpu(op)?;
    let xs = buffer_of(op, &contiguous_from_start(op, x)?)?;
    let (values, indices) = (GpuBuffer::uninit(op, rows)?, GpuBuffer::uninit(op, rows)?);
    let pipeline = pipeline(gpu, "argmax_rows", || format!("{}\n{}", variant::NAN, include_str!("../shaders/argmax_rows.wgsl")));
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?];
    launch(gpu, &pipeline, &params, &[raw(&xs), values.raw(), indices.raw()], grid(gpu, rows as u32));
    Ok((values, indices))
}

//! Row reductions (sum, mean, max) and row softmax: one workgroup per row.

use super::{buffer_of, contiguous_from_start, grid, launch, pipeline, raw, u32_of};
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
    let (combine, identity) = match how {
        RowReduce::Sum | RowReduce::Mean => ("a + b", "0.0"),
        // NaN-propagating max, as NumPy's.
        RowReduce::Max => ("select(max(a, b), a + b, a != a || b != b)", "bitcast<f32>(0xff800000u)"),
    };
    let scale = if how == RowReduce::Mean { 1.0 / cols as f32 } else { 1.0 };
    let key = format!("reduce_rows/{how:?}");
    let pipeline = pipeline(gpu, &key, || include_str!("../shaders/reduce_rows.wgsl").replace("{{COMBINE}}", combine).replace("{{IDENTITY}}", identity));
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?, scale.to_bits()];
    launch(gpu, &pipeline, &params, &[raw(&xs), out.raw()], grid(gpu, rows as u32));
    Ok(out)
}

/// Softmax (or log-softmax) of each row of the row-major `(rows, cols)` matrix in `x`.
pub fn softmax_rows(op: &str, x: &Tensor, rows: usize, cols: usize, log: bool) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let xs = buffer_of(op, &contiguous_from_start(op, x)?)?;
    let out = GpuBuffer::uninit(op, rows * cols)?;
    let pipeline = pipeline(gpu, &format!("softmax/{log}"), || include_str!("../shaders/softmax.wgsl").replace("{{LOG}}", if log { "true" } else { "false" }));
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
    let pipeline = pipeline(gpu, "argmax_rows", || include_str!("../shaders/argmax_rows.wgsl").to_string());
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?];
    launch(gpu, &pipeline, &params, &[raw(&xs), values.raw(), indices.raw()], grid(gpu, rows as u32));
    Ok((values, indices))
}

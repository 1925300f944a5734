//! The GPU device: wgpu (Vulkan, Metal, DX12) running WGSL compute shaders.
//!
//! - `context`: the adapter, found lazily and kept for the process; no adapter is a value.
//! - `pool`: reuse of buffers across steps (flat memory in a training loop).
//! - `recorder`: one command encoder that ops record into; submitted when values are read.
//! - `buffer`: a tensor's GPU memory (`GpuBuffer`), uploads and read-backs.
//! - `kernels`: pipeline cache and the kernel launches (shaders in `shaders/`).
//! - `precision`: whether GEMMs may round their operands to f16 (a user setting).

pub mod activation;
pub mod buffer;
pub mod context;
pub mod kernels;
pub(crate) mod pool;
mod precision;
pub(crate) mod recorder;

pub use buffer::GpuBuffer;
pub use context::{gpu, probe, probed, AdapterSummary, Gpu, ShaderFeatures};
pub use precision::{reduced_matmul_precision, set_reduced_matmul_precision};
pub use recorder::synchronize;

/// Pool figures: (bytes allocated, bytes free for reuse, allocations made), and the submits and
/// compute dispatches so far.
pub fn memory_stats() -> Option<(u64, u64, u64, u64, u64)> {
    if !probed() {
        return None;
    }
    let gpu = probe().ok()?;
    let pool = gpu.pool.lock();
    let recorder = gpu.recorder.lock();
    Some((pool.allocated_bytes, pool.free_bytes, pool.allocations, recorder.submits, recorder.dispatches))
}

/// Destroy the pool's free buffers (what `ferronet.config.empty_cache()` does). Submits first so
/// no recorded command still refers to one.
pub fn empty_cache() {
    if let Ok(gpu) = probe() {
        gpu.recorder.lock().submit(gpu);
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        gpu.pool.lock().clear();
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cnn;

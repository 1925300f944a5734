//! A tensor's memory on the GPU: a pooled wgpu buffer holding `len` f32 values. Dropping it hands
//! the buffer back to the pool.

use super::context::{gpu, Gpu};
use crate::error::{Error, Result};
use std::sync::Arc;

pub struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    len: usize,
    gpu: &'static Arc<Gpu>,
}

impl GpuBuffer {
    /// An uninitialised buffer for `len` f32 values (kernels write every element before reading).
    ///
    /// # Errors
    /// `Device` when there is no GPU, or `len` values exceed what one kernel binding may address.
    pub fn uninit(op: &str, len: usize) -> Result<Self> {
        let gpu = gpu(op)?;
        let bytes = (len.max(1) as u64) * 4;
        if bytes > gpu.max_binding_bytes() {
            return Err(Error::Device {
                op: op.to_string(),
                expected: format!("a tensor of at most {} bytes on {} (its largest storage binding)", gpu.max_binding_bytes(), gpu.summary.name),
                got: format!("{len} values ({bytes} bytes)"),
            });
        }
        let buffer = gpu.pool.lock().take(&gpu.device, bytes);
        Ok(GpuBuffer { buffer: Some(buffer), len, gpu })
    }

    /// A buffer holding `values` (copied through the command stream, so commands recorded earlier
    /// that used a recycled buffer still see its old contents).
    pub fn upload(op: &str, values: &[f32]) -> Result<Self> {
        let out = Self::uninit(op, values.len())?;
        if !values.is_empty() {
            out.gpu.recorder.lock().upload(out.gpu, values, out.raw());
        }
        Ok(out)
    }

    /// A copy on the GPU (recorded; no wait).
    pub fn duplicate(&self, op: &str) -> Result<Self> {
        let out = Self::uninit(op, self.len)?;
        self.gpu.recorder.lock().copy(self.gpu, self.raw(), 0, out.raw(), 0, (self.len * 4) as u64);
        Ok(out)
    }

    /// The values, read back (waits for every recorded command).
    pub fn download(&self, op: &str) -> Result<Vec<f32>> {
        self.download_range(op, 0, self.len)
    }

    /// `len` values from element `start` (waits for every recorded command).
    pub fn download_range(&self, op: &str, start: usize, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        super::recorder::read_back(self.gpu, op, self.raw(), start, len)
    }

    /// Ranges `(buffer, start, len)` of several buffers, read with one submit and one wait.
    pub fn download_many(op: &str, parts: &[(&GpuBuffer, usize, usize)]) -> Result<Vec<Vec<f32>>> {
        let Some((first, _, _)) = parts.first() else { return Ok(Vec::new()) };
        let raw: Vec<(&wgpu::Buffer, usize, usize)> = parts.iter().map(|(b, s, l)| (b.raw(), *s, *l)).collect();
        super::recorder::read_back_many(first.gpu, op, &raw)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("present until drop")
    }

}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.gpu.pool.lock().give(b);
        }
    }
}

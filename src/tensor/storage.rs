//! A tensor's buffer. `Storage` has one variant per device; a `CpuBuffer` either owns its floats or
//! borrows a NumPy array's memory (zero-copy in), keeping the array alive through `owner`.

use super::device::Device;
use crate::gpu::GpuBuffer;
use std::any::Any;

/// Host memory holding f32 values.
pub enum CpuBuffer {
    /// Memory the engine allocated.
    Owned(Vec<f32>),
    /// Memory owned by someone else (a NumPy array); read-only for the engine. Writers call
    /// `make_mut`, which copies first.
    External(ExternalBuffer),
}

/// Borrowed, immutable host memory kept alive by `owner`.
pub struct ExternalBuffer {
    ptr: *const f32,
    len: usize,
    _owner: Box<dyn Any + Send + Sync>,
}

// SAFETY: the engine never writes through `ptr`, and `owner` keeps the memory alive for as long as
// this value exists; the owner itself is Send + Sync.
unsafe impl Send for ExternalBuffer {}
unsafe impl Sync for ExternalBuffer {}

impl ExternalBuffer {
    /// # Safety
    /// `ptr` must point to `len` initialised f32 values that stay valid and unmoved while `owner`
    /// lives.
    pub unsafe fn new(ptr: *const f32, len: usize, owner: Box<dyn Any + Send + Sync>) -> Self {
        ExternalBuffer { ptr, len, _owner: owner }
    }
}

impl CpuBuffer {
    pub fn as_slice(&self) -> &[f32] {
        match self {
            CpuBuffer::Owned(v) => v,
            // SAFETY: see `ExternalBuffer::new`.
            CpuBuffer::External(e) => unsafe { std::slice::from_raw_parts(e.ptr, e.len) },
        }
    }

    /// Mutable access, copying borrowed memory into an owned buffer first.
    pub fn make_mut(&mut self) -> &mut Vec<f32> {
        if let CpuBuffer::External(e) = self {
            // SAFETY: see `ExternalBuffer::new`.
            let copy = unsafe { std::slice::from_raw_parts(e.ptr, e.len) }.to_vec();
            *self = CpuBuffer::Owned(copy);
        }
        match self {
            CpuBuffer::Owned(v) => v,
            CpuBuffer::External(_) => unreachable!("converted to Owned just above"),
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A tensor's data on one device.
pub enum Storage {
    Cpu(CpuBuffer),
    Gpu(GpuBuffer),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(_) => Device::Gpu,
        }
    }

    pub fn from_vec(values: Vec<f32>) -> Self {
        Storage::Cpu(CpuBuffer::Owned(values))
    }

    /// Number of f32 elements in the buffer (not the tensor: views may use part of it).
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
            Storage::Gpu(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deep copy (copy-on-write for shared parameter storage).
    ///
    /// # Errors
    /// `Device` when GPU memory runs out.
    pub fn duplicate(&self) -> crate::error::Result<Self> {
        Ok(match self {
            Storage::Cpu(b) => Storage::Cpu(CpuBuffer::Owned(b.as_slice().to_vec())),
            Storage::Gpu(b) => Storage::Gpu(b.duplicate("copy")?),
        })
    }
}

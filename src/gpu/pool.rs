//! Reuse of GPU allocations across steps. A training step allocates the same sizes every time, so
//! freed buffers wait in per-size free lists and the next step takes them back: after the first
//! step no new allocation is made and the pool's size stays flat.
//!
//! Sizes are rounded up to classes (four per power of two) so near-equal sizes share buffers
//! while wasting at most a quarter of the request.

use std::collections::HashMap;

/// Usage every tensor buffer gets: kernels read and write it, copies move it in and out.
pub(crate) const TENSOR_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Free buffers by size class, and the bytes held in all (free and in use).
#[derive(Default)]
pub(crate) struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Bytes of every buffer the pool ever allocated and has not destroyed.
    pub(crate) allocated_bytes: u64,
    /// Bytes waiting in the free lists.
    pub(crate) free_bytes: u64,
    pub(crate) allocations: u64,
}

/// The class a request of `bytes` falls in: at least 256 bytes, then four steps per power of two.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    let top = 63 - bytes.leading_zeros() as u64; // floor(log2)
    let step = 1u64 << top.saturating_sub(2);
    bytes.div_ceil(step) * step
}

impl Pool {
    /// A buffer of at least `bytes`, reused when one of its class is free.
    pub(crate) fn take(&mut self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        if let Some(buffer) = self.free.get_mut(&class).and_then(Vec::pop) {
            self.free_bytes -= class;
            return buffer;
        }
        self.allocated_bytes += class;
        self.allocations += 1;
        device.create_buffer(&wgpu::BufferDescriptor { label: Some("ferronet tensor"), size: class, usage: TENSOR_USAGE, mapped_at_creation: false })
    }

    /// Return a buffer for reuse. Commands already recorded that use it still run first: the
    /// queue executes in recording order, and wgpu orders accesses to one buffer.
    pub(crate) fn give(&mut self, buffer: wgpu::Buffer) {
        let class = buffer.size();
        self.free_bytes += class;
        self.free.entry(class).or_default().push(buffer);
    }

    /// Destroy every free buffer (tests, and `ferronet.config.empty_cache()`).
    pub(crate) fn clear(&mut self) {
        for (_, list) in self.free.drain() {
            for b in list {
                self.allocated_bytes -= b.size();
                b.destroy();
            }
        }
        self.free_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn classes_cover_the_request_with_bounded_waste() {
        for bytes in [1u64, 255, 256, 257, 1000, 4096, 4097, 123_457, 1 << 30] {
            let c = size_class(bytes);
            assert!(c >= bytes && c >= 256, "{bytes} -> {c}");
            assert!(bytes < 256 || c <= bytes + bytes / 4 + 1, "{bytes} -> {c}");
            assert_eq!(c % 4, 0);
        }
    }
}

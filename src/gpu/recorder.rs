//! One command encoder that every GPU op records into, consecutive dispatches in one compute
//! pass. Nothing is submitted until something must be read back (a loss value, predictions,
//! `.numpy()`) or the encoder grows long, so a training step becomes one command buffer and one
//! submit.

use super::context::Gpu;
use crate::error::{Error, Result};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// Dispatches recorded before an automatic submit: bounds the memory held by pending bind groups
/// in a long loop that never reads anything back.
const MAX_PENDING: usize = 4096;

/// Bytes of the parameter arena: every dispatch of one submit has its slot in it.
const ARENA_BYTES: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct Recorder {
    /// The compute pass consecutive dispatches share (declared first: it must end before the
    /// encoder goes). Ended by a copy, which cannot be recorded inside a pass, and by a submit.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    pending: usize,
    /// Submits so far (tests check that a training step is one).
    pub(crate) submits: u64,
    /// Compute dispatches recorded so far (tests check what fusion saves).
    pub(crate) dispatches: u64,
    /// One storage buffer holding every recorded dispatch's parameters, each at its own aligned
    /// offset, written once per submit (`params`): no buffer is created per dispatch.
    arena: Option<wgpu::Buffer>,
    params: Vec<u8>,
}

impl Recorder {
    /// The encoder, with no pass open (copies and submits need it so).
    fn encoder(&mut self, gpu: &Gpu) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.encoder.get_or_insert_with(|| gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ferronet step") }))
    }

    /// The open compute pass, begun on the encoder if none is.
    fn pass(&mut self, gpu: &Gpu) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let pass = self.encoder(gpu).begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None }).forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("just begun")
    }

    /// Record a copy of `values` into `dst`, ordered after everything recorded before.
    pub(crate) fn upload(&mut self, gpu: &Gpu, values: &[f32], dst: &wgpu::Buffer) {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        let staging = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some("ferronet upload"), contents: bytes, usage: wgpu::BufferUsages::COPY_SRC });
        self.encoder(gpu).copy_buffer_to_buffer(&staging, 0, dst, 0, bytes.len() as u64);
        self.count(gpu);
    }

    /// Record a copy of `bytes` bytes between two buffers.
    pub(crate) fn copy(&mut self, gpu: &Gpu, src: &wgpu::Buffer, src_offset: u64, dst: &wgpu::Buffer, dst_offset: u64, bytes: u64) {
        if bytes > 0 {
            self.encoder(gpu).copy_buffer_to_buffer(src, src_offset, dst, dst_offset, bytes);
            self.count(gpu);
        }
    }

    /// Record one compute dispatch. `params` go to binding 0; `buffers` to bindings 1, 2, ...
    pub(crate) fn dispatch(&mut self, gpu: &Gpu, pipeline: &wgpu::ComputePipeline, params: &[u32], buffers: &[&wgpu::Buffer], groups: [u32; 3]) {
        if groups.contains(&0) {
            return;
        }
        let params: &[u32] = if params.is_empty() { &[0] } else { params };
        let bytes: &[u8] = bytemuck::cast_slice(params);
        let align = gpu.limits.min_storage_buffer_offset_alignment.max(4) as usize;
        let slot = bytes.len().div_ceil(align) * align;
        if self.params.len() + slot > ARENA_BYTES {
            self.submit(gpu);
        }
        let arena = self.arena.get_or_insert_with(|| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some("ferronet params"), size: ARENA_BYTES as u64, usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false })
        });
        let offset = self.params.len();
        self.params.extend_from_slice(bytes);
        self.params.resize(offset + slot, 0);
        let binding = wgpu::BufferBinding { buffer: arena, offset: offset as u64, size: std::num::NonZeroU64::new(bytes.len() as u64) };
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(binding) }];
        entries.extend(buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.as_entire_binding() }));
        let layout = pipeline.get_bind_group_layout(0);
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &layout, entries: &entries });
        {
            let pass = self.pass(gpu);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        self.dispatches += 1;
        self.count(gpu);
    }

    fn count(&mut self, gpu: &Gpu) {
        self.pending += 1;
        if self.pending >= MAX_PENDING {
            self.submit(gpu);
        }
    }

    /// Submit what was recorded (no wait). The parameters go first: the queue writes them before
    /// it runs this submit's commands (and after the previous submit's, which read the old ones).
    pub(crate) fn submit(&mut self, gpu: &Gpu) {
        if let (Some(arena), false) = (&self.arena, self.params.is_empty()) {
            gpu.queue.write_buffer(arena, 0, &self.params);
            self.params.clear();
        }
        self.pass = None;
        if let Some(encoder) = self.encoder.take() {
            gpu.queue.submit([encoder.finish()]);
            self.pending = 0;
            self.submits += 1;
        }
    }
}

/// Submit everything recorded and read `len` f32 values from element `start` of `src`.
pub(crate) fn read_back(gpu: &Arc<Gpu>, op: &str, src: &wgpu::Buffer, start: usize, len: usize) -> Result<Vec<f32>> {
    Ok(read_back_many(gpu, op, &[(src, start, len)])?.pop().unwrap_or_default())
}

/// Submit everything recorded and read several ranges `(buffer, start, len)` (in f32 elements)
/// with one submit and one wait: a training loop reads a whole stretch of steps' losses and
/// predictions at once.
pub(crate) fn read_back_many(gpu: &Arc<Gpu>, op: &str, parts: &[(&wgpu::Buffer, usize, usize)]) -> Result<Vec<Vec<f32>>> {
    let total: usize = parts.iter().map(|p| p.2).sum();
    if total == 0 {
        return Ok(parts.iter().map(|_| Vec::new()).collect());
    }
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("ferronet read-back"),
        size: (total * 4) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    {
        let mut rec = gpu.recorder.lock();
        let mut at = 0u64;
        for &(src, start, len) in parts {
            rec.copy(gpu, src, (start * 4) as u64, &staging, at, (len * 4) as u64);
            at += (len * 4) as u64;
        }
        rec.submit(gpu);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    let fail = |why: String| Error::Device { op: op.to_string(), expected: "a GPU read-back".to_string(), got: why };
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| fail(e.to_string()))?;
    gpu.take_device_error(op)?;
    rx.recv().map_err(|e| fail(e.to_string()))?.map_err(|e| fail(e.to_string()))?;
    let all: Vec<f32> = {
        let view = staging.get_mapped_range(..).map_err(|e| fail(e.to_string()))?;
        view.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    staging.unmap();
    let mut out = Vec::with_capacity(parts.len());
    let mut at = 0;
    for &(_, _, len) in parts {
        out.push(all[at..at + len].to_vec());
        at += len;
    }
    Ok(out)
}

/// Submit everything recorded and wait for it (benchmarks time kernels with this).
pub fn synchronize(gpu: &Gpu) -> Result<()> {
    gpu.recorder.lock().submit(gpu);
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Device { op: "synchronize".into(), expected: "a GPU that finishes".into(), got: e.to_string() })?;
    gpu.take_device_error("synchronize")
}

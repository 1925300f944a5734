//! The optimizers' update on the GPU: one kernel per weight and step updates the weight and its
//! state slots in place, with the CPU's formulas (`nn::optimizer::update_chunk`).

use super::{grid, launch, pipeline, raw, u32_of, WORKGROUP};
use crate::error::Result;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::gpu;
use crate::tensor::Storage;

/// A rule as the kernel sees it: the WGSL body (weight `wi`, gradient `gi`, slots `s0..`,
/// scalars `lr`, `a`..`d`), its number of slots, and its scalars.
pub struct UpdateRule {
    pub key: String,
    pub body: String,
    pub slots: usize,
    pub scalars: [f32; 4],
}

/// `w` (its storage, made unique by the caller) updated in place from `g` and `slots`.
pub fn apply_update(op: &str, w: &Storage, g: &Storage, slots: &[GpuBuffer], rule: &UpdateRule, lr: f32, decay: f32) -> Result<()> {
    let gpu = gpu(op)?;
    let n = w.len();
    if n == 0 {
        return Ok(());
    }
    let pipeline = pipeline(gpu, &format!("optimizer/{}", rule.key), || {
        let decl: String = (0..rule.slots).map(|k| format!("@group(0) @binding({}) var<storage, read_write> s{k}: array<f32>;\n", k + 3)).collect();
        include_str!("../shaders/optimizer.wgsl").replace("{{SLOTS}}", &decl).replace("{{RULE}}", &rule.body)
    });
    let [a, b, c, d] = rule.scalars;
    let params = [u32_of(op, "an element count", n)?, lr.to_bits(), decay.to_bits(), a.to_bits(), b.to_bits(), c.to_bits(), d.to_bits()];
    let mut buffers = vec![raw(w), raw(g)];
    buffers.extend(slots.iter().map(GpuBuffer::raw));
    launch(gpu, &pipeline, &params, &buffers, grid(gpu, (n as u32).div_ceil(WORKGROUP)));
    Ok(())
}

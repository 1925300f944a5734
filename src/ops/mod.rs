//! Ops: each defined once, with its shape rule, its forward (dispatched on the storage's device)
//! and its backward rule beside it. Backward rules are written with ops too, under no-grad, so a
//! new device needs kernels, not new gradient code.

pub mod binary;
pub mod concat;
pub mod conv;
pub mod dense;
pub mod embedding;
pub mod loss;
mod loss_gpu;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod recurrent;
mod recurrent_gpu;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod spatial;
pub mod unary;

pub use binary::{add, div, mul, pow, sub};
pub use concat::concat;
pub use dense::{dense, DenseActivation};
pub use matmul::matmul;
pub use reduce::{max, mean, sum, sum_to};
pub use shape::{broadcast_to, contiguous, permute, reshape, slice, transpose, SliceSpec};
pub use softmax::{log_softmax, softmax};
pub use unary::{abs, activation, clip, exp, log, neg, sqrt, square};

use crate::autograd::Backward;
use crate::error::Result;
use crate::tensor::{Device, Tensor};

/// A backward rule from a closure over the tensors the op saved.
pub struct FnRule<F>(pub F);

impl<F> Backward for FnRule<F>
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync,
{
    fn backward(&self, grad_output: &Tensor) -> Result<Vec<Option<Tensor>>> {
        (self.0)(grad_output)
    }
}

/// Shorthand for `Tensor::from_op` with a closure rule.
/// `rule` receives the op's output (detached) and returns the gradient closure.
pub(crate) fn record<F>(op: &'static str, values: Vec<f32>, shape: &[usize], inputs: &[&Tensor], rule: impl FnOnce(Tensor) -> F) -> Tensor
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    Tensor::from_op(op, values, shape, inputs, |out| FnRule(rule(out)))
}

/// `Tensor::from_gpu_op` with a closure rule: the GPU twin of `record`.
pub(crate) fn record_gpu<F>(op: &'static str, buffer: crate::gpu::GpuBuffer, shape: &[usize], inputs: &[&Tensor], rule: impl FnOnce(Tensor) -> F) -> Tensor
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    Tensor::from_gpu_op(op, buffer, shape, inputs, |out| FnRule(rule(out)))
}

/// Whether any operand lives on the GPU (the op then runs there).
pub(crate) fn on_gpu(tensors: &[&Tensor]) -> bool {
    tensors.iter().any(|t| t.device() == Device::Gpu)
}

/// Ops that ran on the CPU for GPU operands, with how often (`ferronet.config.cpu_fallbacks()`).
static FALLBACKS: parking_lot::Mutex<Vec<(&'static str, u64)>> = parking_lot::Mutex::new(Vec::new());

/// The ops that fell back to the CPU so far, with counts.
pub fn cpu_fallbacks() -> Vec<(&'static str, u64)> {
    FALLBACKS.lock().clone()
}

/// Count one CPU fallback of `op`.
pub(crate) fn count_fallback(op: &'static str) {
    let mut seen = FALLBACKS.lock();
    match seen.iter_mut().find(|(name, _)| *name == op) {
        Some((_, n)) => *n += 1,
        None => seen.push((op, 1)),
    }
}

/// Run an op that has no GPU kernel yet on GPU operands: they move to the CPU (differentiably, so
/// gradients move back), `f` runs there, and its result moves to the GPU. `None` when no operand is
/// on the GPU (the caller runs its CPU path). Counted in `cpu_fallbacks`.
pub(crate) fn via_cpu(op: &'static str, inputs: &[&Tensor], f: impl FnOnce(&[Tensor]) -> Result<Tensor>) -> Result<Option<Tensor>> {
    if !on_gpu(inputs) {
        return Ok(None);
    }
    count_fallback(op);
    let moved = inputs.iter().map(|t| t.to_device(Device::Cpu)).collect::<Result<Vec<_>>>()?;
    Ok(Some(f(&moved)?.to_device(Device::Gpu)?))
}

/// Check that operands share a device (the error names the op): a CPU/GPU mix is an error, not
/// a silent copy.
pub(crate) fn same_device(op: &str, tensors: &[&Tensor]) -> Result<()> {
    if let Some(first) = tensors.first() {
        let d = first.device();
        for t in &tensors[1..] {
            if t.device() != d {
                return Err(crate::error::Error::Device {
                    op: op.to_string(),
                    expected: format!("all operands on {d}"),
                    got: format!("one on {}", t.device()),
                });
            }
        }
    }
    Ok(())
}

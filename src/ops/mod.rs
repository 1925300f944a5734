//! Ops: each defined once, with its shape rule, its forward (dispatched on the storage's device)
//! and its backward rule beside it. Backward rules are written with ops too, under no-grad, so a
//! new device needs kernels, not new gradient code.

pub mod binary;
pub mod concat;
pub mod conv;
pub mod dense;
pub mod embedding;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod recurrent;
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
use crate::tensor::Tensor;

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

/// Check that operands share a device (the error names the op). With one device today this
/// always holds; it is where a CPU/GPU mix becomes an error instead of a crash.
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

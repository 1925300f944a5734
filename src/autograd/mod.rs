//! Reverse-mode autograd: a define-by-run tape. Each op result that needs a gradient holds a
//! `Node` naming its inputs and its backward rule; `backward()` walks the nodes in reverse
//! topological order. Rules compute gradients with ordinary ops under no-grad, so they run on
//! whatever device the tensors live on. Kernels (`cpu/`) never see this module.

mod engine;
mod grad_mode;

pub use engine::backward;
pub use grad_mode::{is_grad_enabled, set_grad_enabled, NoGradGuard};

use crate::error::Result;
use crate::tensor::Tensor;

/// A backward rule: given the gradient of the op's output, the gradients of its inputs, in input
/// order (`None` for inputs that need none or are not differentiable, e.g. labels).
pub trait Backward: Send + Sync {
    fn backward(&self, grad_output: &Tensor) -> Result<Vec<Option<Tensor>>>;
}

/// One recorded op.
pub struct Node {
    pub op: &'static str,
    pub inputs: Vec<Tensor>,
    pub rule: Box<dyn Backward>,
}

impl Drop for Node {
    /// Dismantle the graph behind this node with a loop: the default recursive drop (tensor ->
    /// node -> input tensor -> ...) overflows the stack on a chain of ~100k ops, e.g. a running
    /// `total = total + loss` never passed to `backward()`.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.inputs);
        while let Some(tensor) = stack.pop() {
            if let Some(node) = tensor.take_node_if_last_handle() {
                if let Ok(mut node) = std::sync::Arc::try_unwrap(node) {
                    stack.append(&mut node.inputs);
                }
            }
        }
    }
}

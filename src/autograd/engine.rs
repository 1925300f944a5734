//! The backward pass: topological order, gradient accumulation, freeing the graph as it goes.

use super::grad_mode::NoGradGuard;
use super::Node;
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Accumulate `d root / d leaf` into every leaf that requires grad.
///
/// `grad_output` defaults to ones for a one-element `root`. Unless `retain_graph`, each node is
/// dropped once used, which frees the tensors it saved: memory stays flat over training steps.
///
/// # Errors
/// `NoGradient` when `root` does not require grad; `NonScalarBackward` when it has more than one
/// element and no gradient is given; `Shape` when the given gradient's shape differs; `GraphFreed`
/// when part of the graph was freed by an earlier call.
pub fn backward(root: &Tensor, grad_output: Option<Tensor>, retain_graph: bool) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::NoGradient);
    }
    let seed = match grad_output {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::shape(
                    "backward",
                    format!("a gradient of shape {}", fmt_shape(root.shape())),
                    fmt_shape(g.shape()),
                ));
            }
            // A copy: the seed can flow unchanged into a leaf's .grad (through add, reshape, ...),
            // and it may borrow the caller's NumPy array, which they are free to mutate later.
            Tensor::from_vec_on(g.try_cpu_values()?.into_vec(), g.shape(), root.device())?
        }
        None if root.numel() == 1 => Tensor::full(root.shape(), 1.0).to_device(root.device())?,
        None => return Err(Error::NonScalarBackward { shape: fmt_shape(root.shape()) }),
    };
    let _no_grad = NoGradGuard::new();
    let order = topological_order(root, retain_graph)?;
    let mut grads: HashMap<usize, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);
    for (tensor, node) in order.into_iter().rev() {
        let Some(grad) = grads.remove(&tensor.id()) else { continue };
        match node {
            None => accumulate_leaf(&tensor, grad)?,
            Some(node) => {
                let input_grads = node.rule.backward(&grad)?;
                for (input, g) in node.inputs.iter().zip(input_grads) {
                    let Some(g) = g else { continue };
                    if !input.requires_grad() {
                        continue;
                    }
                    // A gradient lives where its tensor lives (a rule may build it elsewhere, e.g.
                    // a host-side scatter for a GPU view).
                    let g = g.to_device(input.device())?;
                    match grads.remove(&input.id()) {
                        Some(prev) => grads.insert(input.id(), ops::add(&prev, &g)?),
                        None => grads.insert(input.id(), g),
                    };
                }
            }
        }
    }
    Ok(())
}

fn accumulate_leaf(leaf: &Tensor, grad: Tensor) -> Result<()> {
    leaf.update_grad(|prev| match prev {
        Some(prev) => ops::add(prev, &grad),
        None => Ok(grad),
    })
}

type Visit = (Tensor, Option<Arc<Node>>);

/// Tensors reachable from `root` through nodes, producers before consumers. Each non-leaf comes
/// with its node (taken out of the tensor unless `retain_graph`).
fn topological_order(root: &Tensor, retain_graph: bool) -> Result<Vec<Visit>> {
    let mut order: Vec<Visit> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    // Iterative DFS: (tensor, its node, index of the next input to visit).
    let mut stack: Vec<(Tensor, Option<Arc<Node>>, usize)> = Vec::new();
    let root_node = fetch_node(root, retain_graph)?;
    seen.insert(root.id());
    stack.push((root.clone(), root_node, 0));
    while let Some((tensor, node, next)) = stack.pop() {
        let child = node.as_ref().and_then(|n| n.inputs.get(next).cloned());
        match child {
            Some(input) => {
                stack.push((tensor, node, next + 1));
                if input.requires_grad() && seen.insert(input.id()) {
                    let input_node = fetch_node(&input, retain_graph)?;
                    stack.push((input, input_node, 0));
                }
            }
            None => order.push((tensor, node)),
        }
    }
    Ok(order)
}

fn fetch_node(tensor: &Tensor, retain_graph: bool) -> Result<Option<Arc<Node>>> {
    let node = tensor.node(!retain_graph);
    if node.is_none() && !tensor.is_leaf() {
        return Err(Error::GraphFreed { op: tensor.made_by().unwrap_or("an op").to_string() });
    }
    Ok(node)
}

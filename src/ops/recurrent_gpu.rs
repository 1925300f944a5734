//! The recurrent op on the GPU: the operands made row-major on the device, the two constant
//! masks packed into one buffer, the kernels of `gpu::kernels::recurrent` forward, and one graph
//! node whose backward runs their BPTT. Output, gradients and options as the CPU op's
//! (`recurrent.rs`): initial states, timestep mask, recurrent dropout, go_backwards, last_only.

use super::record_gpu;
use super::recurrent::{node_name, RecurrentInputs};
use crate::cpu::recurrent::Cell;
use crate::error::Result;
use crate::gpu::kernels::{self, recurrent as kernel};
use crate::gpu::GpuBuffer;
use crate::tensor::{Device, Layout, Tensor};

/// (batch, steps, features, units), checked by the op.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub batch: usize,
    pub steps: usize,
    pub features: usize,
    pub units: usize,
}

/// `t` as a detached GPU tensor, row-major from element 0 of its buffer (the kernels index from
/// there): itself when it already is one, else a copy (an upload for a CPU constant).
fn dense(op: &str, t: &Tensor) -> Result<Tensor> {
    if t.device() == Device::Cpu {
        return Ok(Tensor::from_gpu(GpuBuffer::upload(op, t.cpu_values().as_slice())?, t.shape()));
    }
    if t.layout().is_contiguous() && t.layout().offset == 0 {
        return Ok(t.detach());
    }
    Ok(Tensor::from_gpu(kernels::elementwise(op, "copy", "x0", &[t], t.shape(), [0.0; 4])?, t.shape()))
}

/// The timestep mask then the recurrent dropout mask in one GPU buffer (each optional, either
/// device): one binding for both in the step kernels. One unread value when neither is given.
fn pack_masks(op: &str, mask: Option<&Tensor>, dropout: Option<&Tensor>) -> Result<Tensor> {
    let parts: Vec<&Tensor> = mask.into_iter().chain(dropout).collect();
    match parts.as_slice() {
        [] => Ok(Tensor::from_gpu(GpuBuffer::uninit(op, 1)?, &[1])),
        [one] => dense(op, one),
        _ if parts.iter().all(|t| t.device() == Device::Cpu) => {
            let values: Vec<f32> = parts.iter().flat_map(|t| t.to_vec()).collect();
            let n = values.len();
            Ok(Tensor::from_gpu(GpuBuffer::upload(op, &values)?, &[n]))
        }
        _ => {
            let total = parts.iter().map(|t| t.numel()).sum();
            let out = GpuBuffer::uninit(op, total)?;
            let gpu = crate::gpu::gpu(op)?;
            let mut at = 0;
            for t in parts {
                let storage = dense(op, t)?.storage();
                gpu.recorder.lock().copy(gpu, kernels::raw(&storage), 0, out.raw(), (at * 4) as u64, (t.numel() * 4) as u64);
                at += t.numel();
            }
            Ok(Tensor::from_gpu(out, &[total]))
        }
    }
}

/// The operands the kernels read, kept by the node for the backward pass.
struct Owned {
    x: Tensor,
    kernel: Tensor,
    recurrent: Tensor,
    bias: Option<Tensor>,
    h0: Option<Tensor>,
    c0: Option<Tensor>,
    masks: Tensor,
}

impl Owned {
    fn operands(&self) -> kernel::Operands<'_> {
        kernel::Operands {
            x: &self.x,
            kernel: &self.kernel,
            recurrent: &self.recurrent,
            bias: self.bias.as_ref(),
            h0: self.h0.as_ref(),
            c0: self.c0.as_ref(),
            aux: &self.masks,
        }
    }
}

/// The recurrent op for GPU operands (checked by `recurrent`): the state sequence (B, T, W) in
/// processing order, or with `last_only` the last step's states (B, W).
pub(super) fn recurrent_gpu(op: &str, cell: Cell, inputs: &RecurrentInputs<'_>, dims: Dims, go_backwards: bool, last_only: bool) -> Result<Tensor> {
    let RecurrentInputs { x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_dropout } = *inputs;
    let Dims { batch, steps, features, units } = dims;
    let opt = |t: Option<&Tensor>| t.map(|t| dense(op, t)).transpose();
    let owned = Owned {
        x: dense(op, x)?,
        kernel: dense(op, kernel)?,
        recurrent: dense(op, recurrent_kernel)?,
        bias: opt(bias)?,
        h0: opt(h0)?,
        c0: opt(c0)?,
        masks: pack_masks(op, mask, recurrent_dropout)?,
    };
    let seq = kernel::Sequence {
        cell,
        batch,
        steps,
        features,
        units,
        go_backwards,
        mask: mask.is_some(),
        dropout: recurrent_dropout.is_some(),
        h0: h0.is_some(),
        c0: c0.is_some(),
    };
    let fwd = kernel::forward(op, &seq, &owned.operands())?;
    // The output: the history's slots 1..=T, or its last slot.
    let sw = cell.state_width(units);
    let sample = ((steps + 1) * sw) as isize;
    let (shape, view) = if last_only {
        (vec![batch, sw], Layout { shape: vec![batch, sw], strides: vec![sample, 1], offset: steps * sw })
    } else {
        (vec![batch, steps, sw], Layout { shape: vec![batch, steps, sw], strides: vec![sample, sw as isize, 1], offset: sw })
    };
    let states = Tensor::from_storage(view, fwd.hist.storage());
    let out = kernels::elementwise(op, "copy", "x0", &[&states], &shape, [0.0; 4])?;
    let mut tensors = vec![x, kernel, recurrent_kernel];
    tensors.extend(bias);
    tensors.extend(h0);
    tensors.extend(c0);
    let shapes: Vec<Vec<usize>> = tensors.iter().map(|t| t.shape().to_vec()).collect();
    let need_dx = x.requires_grad();
    let (has_bias, has_h0, has_c0) = (bias.is_some(), h0.is_some(), c0.is_some());
    let op = op.to_string();
    Ok(record_gpu(node_name(cell), out, &shape, &tensors, move |_| {
        move |g: &Tensor| {
            let g = dense(&op, g)?;
            let grads = kernel::backward(&op, &seq, &owned.operands(), &fwd, &g, last_only, need_dx)?;
            let mut out = vec![
                grads.dx.map(|d| Tensor::from_gpu(d, &shapes[0])),
                Some(Tensor::from_gpu(grads.dkernel, &shapes[1])),
                Some(Tensor::from_gpu(grads.drecurrent, &shapes[2])),
            ];
            let mut next = 3;
            for (present, grad) in [(has_bias, grads.dbias), (has_h0, grads.dh0), (has_c0, grads.dc0)] {
                if present {
                    out.push(grad.map(|d| Tensor::from_gpu(d, &shapes[next])));
                    next += 1;
                }
            }
            Ok(out)
        }
    }))
}

/// `recurrent::output_mask` for a GPU mask (one kernel; nothing read back).
pub(super) fn output_mask(mask: &Tensor, go_backwards: bool, zero_output_for_mask: bool) -> Result<Tensor> {
    let (batch, steps) = (mask.shape()[0], mask.shape()[1]);
    let m = dense("output_mask", mask)?;
    let out = kernel::output_mask("output_mask", &m, batch, steps, go_backwards, zero_output_for_mask)?;
    Ok(Tensor::from_gpu(out, &[batch, steps]))
}

/// `recurrent::timestep_mask` for a GPU input with features: 1.0 where a feature differs from
/// `mask_value`, then the maximum of each row.
pub(super) fn timestep_mask(op: &str, x: &Tensor, mask_value: f32, out_shape: &[usize]) -> Result<Tensor> {
    let width = x.shape()[x.ndim() - 1];
    let rows = out_shape.iter().product();
    let differs = kernels::elementwise(op, "masking", "select(0.0, 1.0, x0 != s0)", &[x], x.shape(), [mask_value, 0.0, 0.0, 0.0])?;
    let keep = kernels::reduce_rows(op, &Tensor::from_gpu(differs, x.shape()), rows, width, kernels::RowReduce::Max)?;
    Ok(Tensor::from_gpu(keep, out_shape))
}

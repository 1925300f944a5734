//! The recurrent op: a whole sequence through a SimpleRNN, LSTM or GRU cell in one op, forward
//! and backpropagation through time (kernels in `cpu::recurrent`). Its output is the state
//! sequence (B, T, W) in processing order, W = `[h, c]` for an LSTM and `h` otherwise; layers
//! slice the outputs and final states they return out of it, so one graph node covers the loop.
//! GPU operands run the GPU kernels (`recurrent_gpu`), with the same options and node.

use super::record;
use crate::cpu::recurrent::{self, Cell, Problem, StateGrad};
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

/// The tensors of a recurrent op. `mask` (B, T) and `recurrent_dropout` (B, U) are constants.
#[derive(Clone, Copy)]
pub struct RecurrentInputs<'a> {
    pub x: &'a Tensor,
    pub kernel: &'a Tensor,
    pub recurrent_kernel: &'a Tensor,
    pub bias: Option<&'a Tensor>,
    pub h0: Option<&'a Tensor>,
    pub c0: Option<&'a Tensor>,
    pub mask: Option<&'a Tensor>,
    pub recurrent_dropout: Option<&'a Tensor>,
}

fn expect_shape(op: &str, what: &str, t: &Tensor, want: &[usize]) -> Result<()> {
    if t.shape() != want {
        return Err(Error::shape(op, format!("{what} of shape {}", fmt_shape(want)), fmt_shape(t.shape())));
    }
    Ok(())
}

/// Check the operands' shapes; returns (batch, steps, features, units).
fn check(op: &str, cell: Cell, inputs: &RecurrentInputs<'_>) -> Result<(usize, usize, usize, usize)> {
    let RecurrentInputs { x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_dropout } = *inputs;
    if x.ndim() != 3 {
        return Err(Error::shape(op, "a 3-D input (batch, timesteps, features)", fmt_shape(x.shape())));
    }
    let (batch, steps, features) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if steps == 0 {
        return Err(Error::shape(op, "at least one timestep", fmt_shape(x.shape())));
    }
    if recurrent_kernel.ndim() != 2 || recurrent_kernel.shape()[1] % cell.gates() != 0 {
        return Err(Error::shape(op, format!("a recurrent kernel (units, {} * units)", cell.gates()), fmt_shape(recurrent_kernel.shape())));
    }
    let units = recurrent_kernel.shape()[0];
    let gw = cell.gates() * units;
    expect_shape(op, "recurrent kernel", recurrent_kernel, &[units, gw])?;
    if kernel.shape() != [features, gw] {
        return Err(Error::shape(op, format!("input with {} features (kernel {})", kernel.shape().first().copied().unwrap_or(0), fmt_shape(kernel.shape())), format!("input of shape {}", fmt_shape(x.shape()))));
    }
    if let Some(b) = bias {
        if b.numel() != cell.bias_len(units) {
            return Err(Error::shape(op, format!("a bias of {} values", cell.bias_len(units)), fmt_shape(b.shape())));
        }
    }
    for (what, t) in [("initial state h", h0), ("initial state c", c0), ("recurrent dropout mask", recurrent_dropout)] {
        if let Some(t) = t {
            expect_shape(op, what, t, &[batch, units])?;
        }
    }
    if c0.is_some() && !matches!(cell, Cell::Lstm { .. }) {
        return Err(Error::value(op, "a single initial state (h)", "two (h and c)"));
    }
    if let Some(m) = mask {
        expect_shape(op, "mask", m, &[batch, steps])?;
    }
    Ok((batch, steps, features, units))
}

/// The op's operands as owned row-major buffers (the backward pass runs after the op returns).
struct Owned {
    cell: Cell,
    /// (batch, steps, features, units)
    dims: (usize, usize, usize, usize),
    kernel: Vec<f32>,
    recurrent: Vec<f32>,
    bias: Option<Vec<f32>>,
    h0: Option<Vec<f32>>,
    c0: Option<Vec<f32>>,
    mask: Option<Vec<f32>>,
    recurrent_dropout: Option<Vec<f32>>,
}

impl Owned {
    fn problem<'a>(&'a self, x: &'a [f32]) -> Problem<'a> {
        let (batch, steps, features, units) = self.dims;
        Problem {
            cell: self.cell,
            batch,
            steps,
            features,
            units,
            x,
            kernel: &self.kernel,
            recurrent: &self.recurrent,
            bias: self.bias.as_deref(),
            h0: self.h0.as_deref(),
            c0: self.c0.as_deref(),
            mask: self.mask.as_deref(),
            recurrent_dropout: self.recurrent_dropout.as_deref(),
        }
    }
}

/// Keras's output mask of a recurrent layer from its timestep mask (B, T): per step in processing
/// order (`go_backwards` reads the mask from its end), 1.0 where the layer's output is the state
/// (a real step, or with `zero_output_for_mask` off a masked step after a real one: the output
/// repeats), 0.0 where it is zeros (masked steps before the first real one). (B, T), on the
/// mask's device; a constant.
///
/// # Errors
/// `Shape` when the mask is not 2-D; `Device` when the GPU fails.
pub fn output_mask(mask: &Tensor, go_backwards: bool, zero_output_for_mask: bool) -> Result<Tensor> {
    if mask.ndim() != 2 {
        return Err(Error::shape("output_mask", "a mask (batch, timesteps)", fmt_shape(mask.shape())));
    }
    let (batch, steps) = (mask.shape()[0], mask.shape()[1]);
    if super::on_gpu(&[mask]) {
        return super::recurrent_gpu::output_mask(mask, go_backwards, zero_output_for_mask);
    }
    let m = mask.cpu_values();
    let mut out = Vec::with_capacity(batch * steps);
    for row in m.as_slice().chunks(steps.max(1)).take(batch) {
        let mut seen = false;
        for s in 0..steps {
            let real = row[if go_backwards { steps - 1 - s } else { s }] > 0.5;
            seen |= real;
            out.push(if real || (seen && !zero_output_for_mask) { 1.0 } else { 0.0 });
        }
    }
    Tensor::from_vec(out, &[batch, steps])
}

/// Keras `Masking`'s timestep mask: 1.0 for each step of `x` (…, features) with a feature
/// different from `mask_value`, else 0.0; `x`'s shape without its last axis, on `x`'s device;
/// a constant. On the GPU one compare pass and one row maximum (nothing read back).
///
/// # Errors
/// `Shape` (naming `op`) when `x` has no feature axis; `Device` when the GPU fails.
pub fn timestep_mask(op: &str, x: &Tensor, mask_value: f32) -> Result<Tensor> {
    if x.ndim() < 2 {
        return Err(Error::shape(op, "an input with a feature axis (batch, timesteps, features)", fmt_shape(x.shape())));
    }
    let width = x.shape()[x.ndim() - 1];
    let out_shape = &x.shape()[..x.ndim() - 1];
    if super::on_gpu(&[x]) && width > 0 {
        return super::recurrent_gpu::timestep_mask(op, x, mask_value, out_shape);
    }
    let v = x.cpu_values();
    let keep: Vec<f32> = if width == 0 {
        vec![0.0; out_shape.iter().product()]
    } else {
        v.as_slice().chunks(width).map(|row| if row.iter().any(|&f| f != mask_value) { 1.0 } else { 0.0 }).collect()
    };
    Tensor::from_vec_on(keep, out_shape, x.device())
}

/// The graph node's name for `cell`.
pub(super) fn node_name(cell: Cell) -> &'static str {
    match cell {
        Cell::Simple { .. } => "simple_rnn",
        Cell::Lstm { .. } => "lstm",
        Cell::Gru { .. } => "gru",
    }
}

/// Reverse the time axis of a (B, T, W) buffer.
fn reverse_time(v: &[f32], batch: usize, steps: usize, width: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len());
    for b in 0..batch {
        for s in (0..steps).rev() {
            out.extend_from_slice(&v[(b * steps + s) * width..][..width]);
        }
    }
    out
}

/// Run `cell` over `inputs.x` (B, T, F); `go_backwards` reads the sequence from its end. `op`
/// names the layer in errors. Returns the state sequence (B, T, W), or with `last_only` the
/// last step's states (B, W): a layer that returns only its final output then needs no
/// (B, T, W) gradient buffer, mostly zeros, in its backward pass.
pub fn recurrent(op: &str, cell: Cell, inputs: RecurrentInputs<'_>, go_backwards: bool, last_only: bool) -> Result<Tensor> {
    let (batch, steps, features, units) = check(op, cell, &inputs)?;
    let RecurrentInputs { x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_dropout } = inputs;
    let mut tensors = vec![x, kernel, recurrent_kernel];
    tensors.extend(bias);
    tensors.extend(h0);
    tensors.extend(c0);
    super::same_device(op, &tensors)?;
    if super::on_gpu(&tensors) {
        let dims = super::recurrent_gpu::Dims { batch, steps, features, units };
        return super::recurrent_gpu::recurrent_gpu(op, cell, &inputs, dims, go_backwards, last_only);
    }
    let sw = cell.state_width(units);
    let xv = if go_backwards { reverse_time(x.cpu_values().as_slice(), batch, steps, features) } else { x.to_vec() };
    let mv = mask.map(|m| if go_backwards { reverse_time(m.cpu_values().as_slice(), batch, steps, 1) } else { m.to_vec() });
    let owned = Owned {
        cell,
        dims: (batch, steps, features, units),
        kernel: kernel.to_vec(),
        recurrent: recurrent_kernel.to_vec(),
        bias: bias.map(|b| b.to_vec()),
        h0: h0.map(|t| t.to_vec()),
        c0: c0.map(|t| t.to_vec()),
        mask: mv,
        recurrent_dropout: recurrent_dropout.map(|t| t.to_vec()),
    };
    let needs_grad = crate::autograd::is_grad_enabled() && tensors.iter().any(|t| t.requires_grad());
    let (states, saved) = recurrent::forward(&owned.problem(&xv), needs_grad);
    let need_dx = x.requires_grad();
    let (has_bias, has_h0, has_c0) = (bias.is_some(), h0.is_some(), c0.is_some());
    let shapes: Vec<Vec<usize>> = tensors.iter().map(|t| t.shape().to_vec()).collect();
    let op_name = node_name(cell);
    // With `last_only` the op's output is the last step; the whole sequence stays here for the
    // backward pass.
    let (values, out_shape, sequence) = if last_only {
        let last: Vec<f32> = states.chunks(steps * sw).flat_map(|sample| sample[(steps - 1) * sw..].iter().copied()).collect();
        (last, vec![batch, sw], Some(states))
    } else {
        (states, vec![batch, steps, sw], None)
    };
    Ok(record(op_name, values, &out_shape, &tensors, move |out| {
        let saved = saved.expect("kept when a node is recorded");
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let out_values;
            let (states, dstates) = match &sequence {
                Some(all) => (all.as_slice(), StateGrad::Last(gv.as_slice())),
                None => {
                    out_values = out.cpu_values();
                    (out_values.as_slice(), StateGrad::Sequence(gv.as_slice()))
                }
            };
            let grads = recurrent::backward(&owned.problem(&xv), &saved, states, dstates, need_dx);
            let dx = match grads.dx {
                Some(dx) if go_backwards => Some(reverse_time(&dx, batch, steps, features)),
                other => other,
            };
            let mut out = vec![
                dx.map(|d| Tensor::from_vec(d, &shapes[0])).transpose()?,
                Some(Tensor::from_vec(grads.dkernel, &shapes[1])?),
                Some(Tensor::from_vec(grads.drecurrent, &shapes[2])?),
            ];
            let mut next = 3;
            if has_bias {
                out.push(Some(Tensor::from_vec(grads.dbias.expect("bias gradient"), &shapes[next])?));
                next += 1;
            }
            if has_h0 {
                out.push(Some(Tensor::from_vec(grads.dh0, &shapes[next])?));
                next += 1;
            }
            if has_c0 {
                out.push(Some(Tensor::from_vec(grads.dc0.expect("LSTM cell-state gradient"), &shapes[next])?));
            }
            Ok(out)
        }
    }))
}

//! Recurrent cells over whole sequences (SimpleRNN, LSTM, GRU), forward and backpropagation
//! through time, laid out as oneDNN's RNN kernels are:
//!
//! - the input projection of every timestep is one GEMM (`x @ kernel + bias`, (B*T) x G*U);
//! - each step runs one recurrent GEMM over all gates, accumulating into that step's slice,
//!   then one fused pass for the gate nonlinearities and the state update;
//! - backward keeps only `dh_{t-1} = dgates_t @ recurrent^T` per step; the weight gradients are
//!   one GEMM each over all timesteps (`x^T @ dgates`, `h_prev^T @ dgates`) after the sweep.
//!
//! Buffers are batch-major, `(B, T, width)`: row `b*T + s` is sample `b` at step `s`, in
//! processing order (a `go_backwards` caller reverses the input first). A step's slice is a
//! strided matrix (row stride `T * width`), which the GEMM reads and writes in place.
//!
//! Masked steps (mask <= 0.5) carry the previous state through unchanged, as Keras does.

mod gru;
mod lstm;
mod simple;

use super::activation::Activation;
use super::fastmath;
use super::gemm::{gemm, MatRef};
use super::parallel::threads;
use super::workers;

/// Which cell, with its activations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Simple { activation: Activation },
    Lstm { activation: Activation, recurrent_activation: Activation },
    Gru { activation: Activation, recurrent_activation: Activation, reset_after: bool },
}

impl Cell {
    /// Gates stacked in the kernels' columns (Keras order: LSTM i, f, c, o; GRU z, r, h).
    pub fn gates(&self) -> usize {
        match self {
            Cell::Simple { .. } => 1,
            Cell::Lstm { .. } => 4,
            Cell::Gru { .. } => 3,
        }
    }

    /// Width of one step of the state sequence: `[h, c]` for an LSTM, `h` otherwise.
    pub fn state_width(&self, units: usize) -> usize {
        match self {
            Cell::Lstm { .. } => 2 * units,
            _ => units,
        }
    }

    /// Length of the bias: a GRU with `reset_after` keeps an input and a recurrent bias row.
    pub fn bias_len(&self, units: usize) -> usize {
        match self {
            Cell::Gru { reset_after: true, .. } => 2 * 3 * units,
            _ => self.gates() * units,
        }
    }
}

/// One sequence problem, all slices row-major.
pub struct Problem<'a> {
    pub cell: Cell,
    pub batch: usize,
    pub steps: usize,
    pub features: usize,
    pub units: usize,
    /// (B, T, F), in processing order.
    pub x: &'a [f32],
    /// (F, G*U).
    pub kernel: &'a [f32],
    /// (U, G*U).
    pub recurrent: &'a [f32],
    /// `cell.bias_len(units)` values.
    pub bias: Option<&'a [f32]>,
    /// Initial states (B, U); zeros when absent.
    pub h0: Option<&'a [f32]>,
    pub c0: Option<&'a [f32]>,
    /// (B, T) in processing order: steps at or below 0.5 are skipped.
    pub mask: Option<&'a [f32]>,
    /// (B, U): multiplies `h_{t-1}` where the recurrent kernel reads it (recurrent dropout).
    pub recurrent_dropout: Option<&'a [f32]>,
}

/// What the forward pass keeps for the backward pass.
pub struct Saved {
    /// Pre-activation gates, (B, T, G*U).
    pre: Vec<f32>,
    /// Activated gates, (B, T, G*U) (empty for SimpleRNN, whose output is the state).
    act: Vec<f32>,
    /// Per cell, (B, T, U): LSTM `activation(c)`; GRU (reset_after) the recurrent candidate
    /// term `h_prev @ U_h + b_h`; GRU (reset before) `r * h_prev`; unused for SimpleRNN.
    extra: Vec<f32>,
}

/// Gradients of a sequence problem's inputs.
pub struct Grads {
    pub dx: Option<Vec<f32>>,
    pub dkernel: Vec<f32>,
    pub drecurrent: Vec<f32>,
    pub dbias: Option<Vec<f32>>,
    pub dh0: Vec<f32>,
    pub dc0: Option<Vec<f32>>,
}

/// The state sequence (B, T, state_width) and, when `keep`, what the backward pass needs.
pub fn forward(p: &Problem<'_>, keep: bool) -> (Vec<f32>, Option<Saved>) {
    let (states, saved) = match p.cell {
        Cell::Simple { activation } => simple::forward(p, activation),
        Cell::Lstm { activation, recurrent_activation } => lstm::forward(p, activation, recurrent_activation),
        Cell::Gru { activation, recurrent_activation, reset_after } => gru::forward(p, activation, recurrent_activation, reset_after),
    };
    (states, keep.then_some(saved))
}

/// Backpropagation through time: `dstates` is the gradient of the forward's state sequence.
pub fn backward(p: &Problem<'_>, saved: &Saved, states: &[f32], dstates: &[f32], need_dx: bool) -> Grads {
    let (dpre, drec, mut grads) = match p.cell {
        Cell::Simple { activation } => simple::backward(p, saved, states, dstates, activation),
        Cell::Lstm { activation, recurrent_activation } => lstm::backward(p, saved, states, dstates, activation, recurrent_activation),
        Cell::Gru { activation, recurrent_activation, reset_after } => gru::backward(p, saved, states, dstates, activation, recurrent_activation, reset_after),
    };
    let (rows, gw, f) = (p.batch * p.steps, p.cell.gates() * p.units, p.features);
    // The input side of every timestep at once: dK = x^T @ dgates, dx = dgates @ K^T.
    gemm(f, gw, rows, MatRef::row_major(p.x, f).t(), MatRef::row_major(&dpre, gw), &mut grads.dkernel, false);
    if need_dx {
        let mut dx = super::uninit(rows * f);
        gemm(rows, f, gw, MatRef::row_major(&dpre, gw), MatRef::row_major(p.kernel, gw).t(), &mut dx, false);
        grads.dx = Some(dx);
    }
    if p.bias.is_some() {
        let mut db = super::reduce::sum_axis(&dpre, 1, rows, gw);
        if let Some(drec) = &drec {
            db.extend(super::reduce::sum_axis(drec, 1, rows, gw));
        }
        grads.dbias = Some(db);
    }
    grads
}

/// `x @ kernel + bias` for every timestep: (B*T, G*U), the input bias row only.
fn input_projection(p: &Problem<'_>) -> Vec<f32> {
    let (rows, gw) = (p.batch * p.steps, p.cell.gates() * p.units);
    let mut pre = super::uninit(rows * gw);
    gemm(rows, gw, p.features, MatRef::row_major(p.x, p.features), MatRef::row_major(p.kernel, gw), &mut pre, false);
    if let Some(bias) = p.bias {
        let b = &bias[..gw];
        pre.chunks_mut(gw).for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
    }
    pre
}

/// `h_{s-1}` for every sample as the recurrent GEMM reads it, times the recurrent dropout mask:
/// a strided view of the state sequence when possible, else copied into `scratch` (B, U).
/// `None` when it is all zeros (the first step without an initial state).
fn recurrent_input<'b>(p: &Problem<'_>, states: &'b [f32], s: usize, scratch: &'b mut [f32]) -> Option<MatRef<'b>> {
    let (u, sw, t) = (p.units, p.cell.state_width(p.units), p.steps);
    if s == 0 && p.h0.is_none() {
        return None;
    }
    if s > 0 && p.recurrent_dropout.is_none() {
        return Some(MatRef { data: states, offset: (s - 1) * sw, row_stride: (t * sw) as isize, col_stride: 1 });
    }
    for b in 0..p.batch {
        let prev = if s == 0 { &p.h0.unwrap()[b * u..(b + 1) * u] } else { &states[(b * t + s - 1) * sw..][..u] };
        let out = &mut scratch[b * u..(b + 1) * u];
        out.copy_from_slice(prev);
        if let Some(rd) = p.recurrent_dropout {
            out.iter_mut().zip(&rd[b * u..(b + 1) * u]).for_each(|(o, m)| *o *= m);
        }
    }
    Some(MatRef::row_major(scratch, u))
}

/// Every step's `h_{s-1}` as the recurrent kernel read it, (B*T, U): the left operand of the
/// recurrent weight gradient, one GEMM over all timesteps.
fn previous_h(p: &Problem<'_>, states: &[f32]) -> Vec<f32> {
    let (u, sw, t) = (p.units, p.cell.state_width(p.units), p.steps);
    let mut hp = vec![0.0f32; p.batch * t * u];
    for b in 0..p.batch {
        for s in 0..t {
            let out = &mut hp[(b * t + s) * u..][..u];
            if s > 0 {
                out.copy_from_slice(&states[(b * t + s - 1) * sw..][..u]);
            } else if let Some(h0) = p.h0 {
                out.copy_from_slice(&h0[b * u..(b + 1) * u]);
            } else {
                continue;
            }
            if let Some(rd) = p.recurrent_dropout {
                out.iter_mut().zip(&rd[b * u..(b + 1) * u]).for_each(|(o, m)| *o *= m);
            }
        }
    }
    hp
}

/// The recurrent kernel transposed, (G*U, U) row-major: the per-step backward GEMMs read
/// `R^T` row by row. Read through strides instead, the GEMM would repack (transpose) the whole
/// kernel with scalar moves at every timestep; measured at a fifth of an LSTM's training time.
fn transposed_recurrent(p: &Problem<'_>) -> Vec<f32> {
    let (u, gw) = (p.units, p.cell.gates() * p.units);
    let mut rt = vec![0.0f32; gw * u];
    for i in 0..u {
        for j in 0..gw {
            rt[j * u + i] = p.recurrent[i * gw + j];
        }
    }
    rt
}

/// `dh_next += dgates_s @ R^T` (times the recurrent dropout mask), `dgates_s` the step-`s` slice of
/// `dgates` (width `gw`, columns `col0..col0 + cols`), `rt` the transposed recurrent kernel.
#[allow(clippy::too_many_arguments)]
fn recurrent_backward(p: &Problem<'_>, rt: &[f32], dgates: &[f32], gw: usize, col0: usize, cols: usize, s: usize, dh_next: &mut [f32], scratch: &mut [f32]) {
    let (u, t) = (p.units, p.steps);
    let a = MatRef { data: dgates, offset: s * gw + col0, row_stride: (t * gw) as isize, col_stride: 1 };
    let r = MatRef { data: rt, offset: col0 * u, row_stride: u as isize, col_stride: 1 };
    match p.recurrent_dropout {
        None => gemm(p.batch, u, cols, a, r, dh_next, true),
        Some(rd) => {
            gemm(p.batch, u, cols, a, r, scratch, false);
            dh_next.iter_mut().zip(scratch.iter()).zip(rd).for_each(|((d, g), m)| *d += g * m);
        }
    }
}

/// Whether sample `b` runs step `s` (else it carries its state).
#[inline]
fn active(p: &Problem<'_>, b: usize, s: usize) -> bool {
    p.mask.is_none_or(|m| m[b * p.steps + s] > 0.5)
}

/// `out = activation(pre)`, vectorised for sigmoid and tanh (inside `with_simd`, 8 wide).
#[inline(always)]
fn activate(a: Activation, pre: &[f32], out: &mut [f32]) {
    match a {
        Activation::Sigmoid => fastmath::sigmoid_generic(pre, out),
        Activation::Tanh => fastmath::tanh_generic(pre, out),
        Activation::Linear => out.copy_from_slice(pre),
        other => out.iter_mut().zip(pre).for_each(|(o, &x)| *o = other.forward(x)),
    }
}

/// `g *= activation'(pre)`, given the activation's output `post`.
#[inline(always)]
fn backprop(a: Activation, pre: &[f32], post: &[f32], g: &mut [f32]) {
    match a {
        Activation::Sigmoid => g.iter_mut().zip(post).for_each(|(g, y)| *g *= y * (1.0 - y)),
        Activation::Tanh => g.iter_mut().zip(post).for_each(|(g, y)| *g *= 1.0 - y * y),
        Activation::Linear => {}
        other => g.iter_mut().zip(pre.iter().zip(post)).for_each(|(g, (&x, &y))| *g *= other.derivative(x, y)),
    }
}

/// A buffer written by the per-sample parts of a step: each part touches only its own rows.
#[derive(Clone, Copy)]
struct Rows(*mut f32);
// SAFETY: handed to the parts of one `for_samples` call, each of which accesses disjoint rows
// (sample `b`'s rows); the call returns before the owning buffer's borrow ends.
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

impl Rows {
    fn of(v: &mut [f32]) -> Self {
        Rows(v.as_mut_ptr())
    }

    /// # Safety
    /// `[start, start + len)` must be inside the buffer and touched by no other part.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at(&self, start: usize, len: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

/// Below this many state values per step, a step's elementwise pass stays on one thread.
const PARALLEL_MIN_STEP: usize = 4096;

/// `f(b)` for every sample of a step, split across the workers when the step is big enough.
/// Parts are contiguous sample ranges: results never depend on the thread count.
fn for_samples(p: &Problem<'_>, f: impl Fn(usize) + Sync) {
    let n = p.batch;
    let parts = if n * p.units >= PARALLEL_MIN_STEP { threads().min(n) } else { 1 };
    // Each part's loop is compiled for AVX2 where the CPU has it: the gate math inlines into it.
    let run = |range: std::ops::Range<usize>| {
        fastmath::with_simd(
            #[inline(always)]
            || {
                for b in range {
                    f(b)
                }
            },
        )
    };
    if parts <= 1 {
        run(0..n);
        return;
    }
    let per = n.div_ceil(parts);
    workers::run_parts(parts, &|i| run(i * per..((i + 1) * per).min(n)));
}

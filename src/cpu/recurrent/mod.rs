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
use super::gemm::{gemm, gemm_into, gemm_into_serial, MatRef};
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

impl<'a> Problem<'a> {
    /// The same problem for samples `b0..b1` only: every per-sample array is batch-major, so
    /// the slice of a batch range is contiguous.
    fn samples(&self, b0: usize, b1: usize) -> Problem<'a> {
        let (t, u, f) = (self.steps, self.units, self.features);
        Problem {
            batch: b1 - b0,
            x: &self.x[b0 * t * f..b1 * t * f],
            h0: self.h0.map(|h| &h[b0 * u..b1 * u]),
            c0: self.c0.map(|c| &c[b0 * u..b1 * u]),
            mask: self.mask.map(|m| &m[b0 * t..b1 * t]),
            recurrent_dropout: self.recurrent_dropout.map(|m| &m[b0 * u..b1 * u]),
            ..*self
        }
    }
}

/// Batch slices for the workers: the recurrence of one sample never reads another's, so each
/// slice runs its whole time loop on one thread, with no synchronisation per step. One slice
/// when the work is too small to pay for a thread hand-off.
fn batch_parts(p: &Problem<'_>) -> Vec<(usize, usize)> {
    let work = p.batch * p.steps * p.units * p.cell.gates() * (p.units + p.features);
    let parts = if work >= PARALLEL_MIN_WORK { threads().min(p.batch) } else { 1 }.max(1);
    let per = p.batch.div_ceil(parts).max(1);
    (0..parts).map(|i| (i * per, ((i + 1) * per).min(p.batch))).filter(|(a, b)| a < b).collect()
}

/// Multiply-adds per sequence below which a recurrent op stays on one thread.
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Run `f(slice index, samples b0..b1)` for each batch slice, on the workers when there are
/// several, each compiled for AVX2 where the CPU has it (the gate math inlines into it).
fn for_batch_parts(parts: &[(usize, usize)], f: impl Fn(usize, usize) + Sync) {
    let run = |i: usize| {
        let (b0, b1) = parts[i];
        fastmath::with_simd(
            #[inline(always)]
            || f(b0, b1),
        )
    };
    if parts.len() == 1 {
        run(0);
    } else {
        workers::run_parts(parts.len(), &run);
    }
}

/// The per-slice piece of a (B, T, width) or (B, width) buffer (`per_sample` values a sample).
///
/// # Safety
/// Slices of distinct batch ranges are disjoint; each must be used by one part only.
#[allow(clippy::mut_from_ref)]
unsafe fn part_of(buf: &Rows, len: usize, per_sample: usize, b0: usize, b1: usize) -> &mut [f32] {
    debug_assert!(b1 * per_sample <= len);
    buf.at(b0 * per_sample, (b1 - b0) * per_sample)
}

/// The state sequence (B, T, state_width) and, when `keep`, what the backward pass needs.
pub fn forward(p: &Problem<'_>, keep: bool) -> (Vec<f32>, Option<Saved>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let (gw, sw) = (p.cell.gates() * u, p.cell.state_width(u));
    let mut pre = super::uninit(n * t * gw);
    // SimpleRNN's output is its state: no activated gates to keep. An LSTM whose activations'
    // derivatives need only their outputs (sigmoid, tanh, relu) activates the gates in place:
    // one (B, T, 4U) buffer less to write in the forward pass and read back in the backward.
    let gates_in_place = matches!(p.cell, Cell::Lstm { activation, recurrent_activation } if !activation.derivative_needs_input() && !recurrent_activation.derivative_needs_input());
    let mut act = if matches!(p.cell, Cell::Simple { .. }) || gates_in_place { Vec::new() } else { super::uninit(n * t * gw) };
    let mut states = super::uninit(n * t * sw);
    let mut extra = if matches!(p.cell, Cell::Simple { .. }) { Vec::new() } else { super::uninit(n * t * u) };
    let parts = batch_parts(p);
    let (pre_r, act_r, st_r, ex_r) = (Rows::of(&mut pre), Rows::of(&mut act), Rows::of(&mut states), Rows::of(&mut extra));
    let (lens, has_act) = ((pre.len(), states.len(), extra.len()), !act.is_empty());
    for_batch_parts(
        &parts,
        #[inline(always)]
        |b0, b1| {
            let sub = p.samples(b0, b1);
            // SAFETY: each part takes its own batch range of every buffer.
            let bufs = unsafe {
                Buffers {
                    pre: part_of(&pre_r, lens.0, t * gw, b0, b1),
                    act: if has_act { part_of(&act_r, lens.0, t * gw, b0, b1) } else { &mut [] },
                    states: part_of(&st_r, lens.1, t * sw, b0, b1),
                    extra: if lens.2 > 0 { part_of(&ex_r, lens.2, t * u, b0, b1) } else { &mut [] },
                }
            };
            match p.cell {
                Cell::Simple { activation } => simple::forward(&sub, activation, bufs),
                Cell::Lstm { activation, recurrent_activation } => lstm::forward(&sub, activation, recurrent_activation, bufs),
                Cell::Gru { activation, recurrent_activation, reset_after } => gru::forward(&sub, activation, recurrent_activation, reset_after, bufs),
            }
        },
    );
    (states, keep.then_some(Saved { pre, act, extra }))
}

/// The gradient reaching the state sequence: at every step, or (a layer that returns only its
/// final output and states) at the last step only, (B, W), so no (B, T, W) buffer of zeros.
#[derive(Clone, Copy)]
pub enum StateGrad<'a> {
    Sequence(&'a [f32]),
    Last(&'a [f32]),
}

impl<'a> StateGrad<'a> {
    /// Sample `b`'s gradient at step `s` of a sequence of `steps` steps `width` wide, if any.
    #[inline(always)]
    fn at(&self, steps: usize, width: usize, b: usize, s: usize) -> Option<&'a [f32]> {
        match *self {
            StateGrad::Sequence(g) => Some(&g[(b * steps + s) * width..(b * steps + s + 1) * width]),
            StateGrad::Last(g) if s + 1 == steps => Some(&g[b * width..(b + 1) * width]),
            StateGrad::Last(_) => None,
        }
    }

    /// Samples `b0..b1`.
    fn samples(&self, steps: usize, width: usize, b0: usize, b1: usize) -> StateGrad<'a> {
        match *self {
            StateGrad::Sequence(g) => StateGrad::Sequence(&g[b0 * steps * width..b1 * steps * width]),
            StateGrad::Last(g) => StateGrad::Last(&g[b0 * width..b1 * width]),
        }
    }
}

/// Backpropagation through time: `dstates` is the gradient of the forward's state sequence.
pub fn backward<'p>(p: &Problem<'_>, saved: &'p Saved, states: &'p [f32], dstates: StateGrad<'p>, need_dx: bool) -> Grads {
    let (n, t, u, f) = (p.batch, p.steps, p.units, p.features);
    let (gw, sw) = (p.cell.gates() * u, p.cell.state_width(u));
    let reset_after = matches!(p.cell, Cell::Gru { reset_after: true, .. });
    let is_lstm = matches!(p.cell, Cell::Lstm { .. });
    let rt = transposed_recurrent(p);
    let mut dpre = super::uninit(n * t * gw);
    let mut drec = if reset_after { super::uninit(n * t * gw) } else { Vec::new() };
    let mut dh0 = vec![0.0f32; n * u];
    let mut dc0 = if is_lstm { vec![0.0f32; n * u] } else { Vec::new() };
    // Each sample's bias gradient, summed over its steps while the gate gradients are in cache
    // (a pass over the whole (B, T, G*U) buffer afterwards cost 3% of an LSTM step); the samples
    // are summed in order below, so the result does not depend on how the batch was sliced.
    let db_width = if reset_after { 2 * gw } else { gw };
    let mut db_samples = if p.bias.is_some() { vec![0.0f32; n * db_width] } else { Vec::new() };
    let parts = batch_parts(p);
    let (dp_r, dr_r, dh_r, dc_r, db_r) = (Rows::of(&mut dpre), Rows::of(&mut drec), Rows::of(&mut dh0), Rows::of(&mut dc0), Rows::of(&mut db_samples));
    let lens = (dpre.len(), drec.len(), dh0.len(), dc0.len(), db_samples.len());
    for_batch_parts(
        &parts,
        #[inline(always)]
        |b0, b1| {
            let sub = p.samples(b0, b1);
            let part = |v: &'p [f32], per: usize| -> &'p [f32] { slice_of(v, per, b0, b1) };
            let saved_part = SavedPart { pre: part(&saved.pre, t * gw), act: part(&saved.act, t * gw), extra: part(&saved.extra, t * u) };
            // SAFETY: each part takes its own batch range of every buffer.
            let grads = unsafe {
                GradBuffers {
                    dpre: part_of(&dp_r, lens.0, t * gw, b0, b1),
                    drec: if lens.1 > 0 { part_of(&dr_r, lens.1, t * gw, b0, b1) } else { &mut [] },
                    dh: part_of(&dh_r, lens.2, u, b0, b1),
                    dc: if lens.3 > 0 { part_of(&dc_r, lens.3, u, b0, b1) } else { &mut [] },
                    db: if lens.4 > 0 { part_of(&db_r, lens.4, db_width, b0, b1) } else { &mut [] },
                }
            };
            let (st, ds) = (part(states, t * sw), dstates.samples(t, sw, b0, b1));
            match p.cell {
                Cell::Simple { activation } => simple::backward(&sub, &saved_part, st, ds, &rt, activation, grads),
                Cell::Lstm { activation, recurrent_activation } => lstm::backward(&sub, &saved_part, st, ds, &rt, activation, recurrent_activation, grads),
                Cell::Gru { activation, recurrent_activation, reset_after } => gru::backward(&sub, &saved_part, st, ds, &rt, activation, recurrent_activation, reset_after, grads),
            }
        },
    );
    // The weight gradients of every timestep at once (parallel GEMMs over B*T rows).
    let rows = n * t;
    let hp = previous_h(p, states);
    let mut drecurrent = vec![0.0f32; u * gw];
    let hp_t = MatRef::row_major(&hp, u).t();
    match p.cell {
        Cell::Gru { reset_after: false, .. } => {
            // z and r read h_prev; the candidate read r * h_prev (kept in `extra`).
            let dzr = MatRef { data: &dpre, offset: 0, row_stride: gw as isize, col_stride: 1 };
            gemm_into(u, 2 * u, rows, hp_t, dzr, &mut drecurrent, 0, gw, false);
            let dh = MatRef { data: &dpre, offset: 2 * u, row_stride: gw as isize, col_stride: 1 };
            gemm_into(u, u, rows, MatRef::row_major(&saved.extra, u).t(), dh, &mut drecurrent, 2 * u, gw, false);
        }
        _ => {
            let dg = if reset_after { &drec } else { &dpre };
            gemm(u, gw, rows, hp_t, MatRef::row_major(dg, gw), &mut drecurrent, false);
        }
    }
    let mut dkernel = vec![0.0f32; f * gw];
    gemm(f, gw, rows, MatRef::row_major(p.x, f).t(), MatRef::row_major(&dpre, gw), &mut dkernel, false);
    let dx = need_dx.then(|| {
        let mut dx = super::uninit(rows * f);
        gemm(rows, f, gw, MatRef::row_major(&dpre, gw), MatRef::row_major(p.kernel, gw).t(), &mut dx, false);
        dx
    });
    let dbias = p.bias.map(|_| {
        let mut db = vec![0.0f32; db_width];
        for sample in db_samples.chunks(db_width) {
            db.iter_mut().zip(sample).for_each(|(d, s)| *d += s);
        }
        db
    });
    Grads { dx, dkernel, drecurrent, dbias, dh0, dc0: is_lstm.then_some(dc0) }
}

/// Samples `b0..b1` of a read-only batch-major buffer (`per` values a sample); empty stays empty.
fn slice_of(v: &[f32], per: usize, b0: usize, b1: usize) -> &[f32] {
    if v.is_empty() {
        v
    } else {
        &v[b0 * per..b1 * per]
    }
}

/// A batch slice's output buffers in the forward pass (see `Saved` for what each holds).
pub(super) struct Buffers<'a> {
    pub pre: &'a mut [f32],
    pub act: &'a mut [f32],
    pub states: &'a mut [f32],
    pub extra: &'a mut [f32],
}

/// A batch slice's view of `Saved`.
pub(super) struct SavedPart<'a> {
    pub pre: &'a [f32],
    pub act: &'a [f32],
    pub extra: &'a [f32],
}

/// A batch slice's gradient buffers: pre-activation gate gradients (and GRU reset_after's
/// recurrent-side ones), the initial states' gradients (the last step's `dh_prev`), and each
/// sample's bias gradient (empty without a bias; GRU reset_after: input then recurrent half).
pub(super) struct GradBuffers<'a> {
    pub dpre: &'a mut [f32],
    pub drec: &'a mut [f32],
    pub dh: &'a mut [f32],
    pub dc: &'a mut [f32],
    pub db: &'a mut [f32],
}

/// `db += row` (a sample's bias gradient gathers its steps' gate gradients); no-op without bias.
#[inline(always)]
fn add_to_bias(db: &mut [f32], row: &[f32]) {
    if !db.is_empty() {
        db.iter_mut().zip(row).for_each(|(d, r)| *d += r);
    }
}

/// `x @ kernel + bias` for a slice's timesteps: (b*T, G*U), the input bias row only.
fn input_projection(p: &Problem<'_>, pre: &mut [f32]) {
    let (rows, gw) = (p.batch * p.steps, p.cell.gates() * p.units);
    gemm_into_serial(rows, gw, p.features, MatRef::row_major(p.x, p.features), MatRef::row_major(p.kernel, gw), pre, 0, gw, false);
    if let Some(bias) = p.bias {
        let b = &bias[..gw];
        pre.chunks_mut(gw).for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
    }
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
        h_as_read(p, states, b, s, &mut scratch[b * u..(b + 1) * u]);
    }
    Some(MatRef::row_major(scratch, u))
}

/// Sample `b`'s `h_{s-1}` as the recurrent kernel reads it into `out`: the previous state or the
/// initial state (zeros without one), times the recurrent dropout mask.
fn h_as_read(p: &Problem<'_>, states: &[f32], b: usize, s: usize, out: &mut [f32]) {
    let (u, sw, t) = (p.units, p.cell.state_width(p.units), p.steps);
    if s > 0 {
        out.copy_from_slice(&states[(b * t + s - 1) * sw..][..u]);
    } else if let Some(h0) = p.h0 {
        out.copy_from_slice(&h0[b * u..(b + 1) * u]);
    } else {
        out.fill(0.0);
        return;
    }
    if let Some(rd) = p.recurrent_dropout {
        out.iter_mut().zip(&rd[b * u..(b + 1) * u]).for_each(|(o, m)| *o *= m);
    }
}

/// Every step's `h_{s-1}` as the recurrent kernel read it, (B*T, U): the left operand of the
/// recurrent weight gradient, one GEMM over all timesteps.
fn previous_h(p: &Problem<'_>, states: &[f32]) -> Vec<f32> {
    let (u, t) = (p.units, p.steps);
    let mut hp = super::uninit(p.batch * t * u);
    for b in 0..p.batch {
        for s in 0..t {
            h_as_read(p, states, b, s, &mut hp[(b * t + s) * u..][..u]);
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
        None => gemm_into_serial(p.batch, u, cols, a, r, dh_next, 0, u, true),
        Some(rd) => {
            gemm_into_serial(p.batch, u, cols, a, r, scratch, 0, u, false);
            dh_next.iter_mut().zip(scratch.iter()).zip(rd).for_each(|((d, g), m)| *d += g * m);
        }
    }
}

/// Whether sample `b` runs step `s` (else it carries its state).
#[inline]
fn active(p: &Problem<'_>, b: usize, s: usize) -> bool {
    p.mask.is_none_or(|m| m[b * p.steps + s] > 0.5)
}

/// `out = activation(pre)`: sigmoid and tanh by the AVX2 kernels of `fastmath`.
#[inline(always)]
fn activate(a: Activation, pre: &[f32], out: &mut [f32]) {
    match a {
        Activation::Sigmoid => fastmath::sigmoid(pre, out),
        Activation::Tanh => fastmath::tanh(pre, out),
        Activation::Linear => out.copy_from_slice(pre),
        other => out.iter_mut().zip(pre).for_each(|(o, &x)| *o = other.forward(x)),
    }
}

/// `v = activation(v)`.
#[inline(always)]
fn activate_in_place(a: Activation, v: &mut [f32]) {
    match a {
        Activation::Sigmoid => fastmath::sigmoid_in_place(v),
        Activation::Tanh => fastmath::tanh_in_place(v),
        Activation::Linear => {}
        other => v.iter_mut().for_each(|x| *x = other.forward(*x)),
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

/// A buffer written by the batch-slice parts: each part touches only its own samples' rows.
#[derive(Clone, Copy)]
struct Rows(*mut f32);
// SAFETY: handed to the parts of one `for_batch_parts` call, each of which accesses disjoint
// rows (its samples' rows); the call returns before the owning buffer's borrow ends.
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

//! Recurrent cells (SimpleRNN, LSTM, GRU) over whole sequences on the GPU, forward and
//! backpropagation through time, laid out as `cpu::recurrent` is:
//!
//! - the input projection of every timestep is one GEMM (`x @ kernel + bias`, (B*T) x G*U);
//! - each step runs one recurrent GEMM (`h_prev @ recurrent_kernel`, accumulated into that
//!   step's rows of the projection) and one fused kernel for the gates and the state update
//!   (GRU with the reset gate before the product: a second GEMM between two kernels);
//! - backward runs one fused gate-gradient kernel per step in reverse and one GEMM taking the
//!   gradient back to `h_{t-1}` (`dgates_t @ recurrent^T`); the weight gradients are one GEMM
//!   each over all timesteps after the sweep, the bias gradient one column sum.
//!
//! Everything is recorded into the one command encoder: nothing is read back inside the loop.
//! The buffers and the kernels' parameters are described in `shaders/recurrent.wgsl`. Buffers
//! indexed by gate row (pre-activations, saved gates, `h_{t-1}` as read, gate gradients) keep
//! the input's time order, so `go_backwards` needs no reversed copy of the input or of its
//! gradient; the state history is in processing order, as the op's output.

use super::gemm::{gemm_into, BufView};
use super::{elementwise, fill_buffer, grid, launch, raw, u32_of, WORKGROUP};
use crate::cpu::activation::Activation;
use crate::cpu::recurrent::Cell;
use crate::error::{Error, Result};
use crate::gpu::activation;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::context::{gpu, Gpu};
use crate::tensor::{Layout, Tensor};
use std::sync::Arc;

/// Flags of the kernels' params (see the shader).
const MASK: u32 = 1;
const DROPOUT: u32 = 2;
const H0: u32 = 4;
const C0: u32 = 8;
const LAST_ONLY: u32 = 16;

/// The shape and options of one recurrent problem.
#[derive(Clone, Copy, Debug)]
pub struct Sequence {
    pub cell: Cell,
    pub batch: usize,
    pub steps: usize,
    pub features: usize,
    pub units: usize,
    pub go_backwards: bool,
    /// Whether `aux` holds a timestep mask (at 0) and a recurrent dropout mask (at `batch * steps`
    /// after the mask, else at 0).
    pub mask: bool,
    pub dropout: bool,
    pub h0: bool,
    pub c0: bool,
}

/// The operands, on the GPU, row-major from element 0 of their buffers.
pub struct Operands<'a> {
    /// (B, T, F) in the input's time order.
    pub x: &'a Tensor,
    /// (F, G*U).
    pub kernel: &'a Tensor,
    /// (U, G*U).
    pub recurrent: &'a Tensor,
    /// `cell.bias_len(units)` values.
    pub bias: Option<&'a Tensor>,
    /// (B, U) each.
    pub h0: Option<&'a Tensor>,
    pub c0: Option<&'a Tensor>,
    /// The mask (B, T) then the recurrent dropout mask (B, U), as flagged in `Sequence`; any
    /// buffer when neither is.
    pub aux: &'a Tensor,
}

/// What the forward pass leaves for the output and the backward pass.
pub struct Forward {
    /// (B, T + 1, SW): the initial state, then the state after each step.
    pub hist: Tensor,
    pre: GpuBuffer,
    /// Activated gates and the cell's extra value, (B, T, G + U); one unread value for SimpleRNN.
    saved: GpuBuffer,
    /// `h_{t-1}` as the recurrent kernel read it, (B, T, U).
    hp: GpuBuffer,
}

/// Gradients of the operands (row-major, the operands' sizes).
pub struct Grads {
    pub dx: Option<GpuBuffer>,
    pub dkernel: GpuBuffer,
    pub drecurrent: GpuBuffer,
    pub dbias: Option<GpuBuffer>,
    pub dh0: Option<GpuBuffer>,
    pub dc0: Option<GpuBuffer>,
}

impl Sequence {
    fn gate_width(&self) -> usize {
        self.cell.gates() * self.units
    }

    fn state_width(&self) -> usize {
        self.cell.state_width(self.units)
    }

    /// Width of a row of `saved`: the gates and one extra value per unit (none for SimpleRNN).
    fn saved_width(&self) -> usize {
        match self.cell {
            Cell::Simple { .. } => 0,
            _ => self.gate_width() + self.units,
        }
    }

    fn reset_after(&self) -> bool {
        matches!(self.cell, Cell::Gru { reset_after: true, .. })
    }

    /// Width of a row of gate gradients: GRU reset_after keeps the recurrent side's too.
    fn dgates_width(&self) -> usize {
        if self.reset_after() {
            2 * self.gate_width()
        } else {
            self.gate_width()
        }
    }

    /// Time index (in the input's order) of processing step `s`.
    fn time(&self, s: usize) -> usize {
        if self.go_backwards {
            self.steps - 1 - s
        } else {
            s
        }
    }

    fn activations(&self) -> (Activation, Activation) {
        match self.cell {
            Cell::Simple { activation } => (activation, Activation::Linear),
            Cell::Lstm { activation, recurrent_activation } | Cell::Gru { activation, recurrent_activation, .. } => (activation, recurrent_activation),
        }
    }

    /// The params of the step kernels at processing step `s`.
    fn params(&self, op: &str, s: usize, last_only: bool) -> Result<Vec<u32>> {
        let (act, rec) = self.activations();
        let flags = [(self.mask, MASK), (self.dropout, DROPOUT), (self.h0, H0), (self.c0, C0), (last_only, LAST_ONLY)].iter().filter(|(on, _)| *on).fold(0, |f, (_, bit)| f | bit);
        let mut p = vec![0u32; 16];
        p[0] = u32_of(op, "a batch", self.batch)?;
        p[1] = u32_of(op, "a number of timesteps", self.steps)?;
        p[2] = u32_of(op, "a number of units", self.units)?;
        p[3] = s as u32;
        p[4] = u32::from(self.go_backwards);
        p[5] = flags;
        p[6] = if self.mask { u32_of(op, "a mask size", self.batch * self.steps)? } else { 0 };
        p[7] = self.state_width() as u32;
        for (k, v) in activation::forward(act, "x").1.iter().take(3).enumerate() {
            p[10 + k] = v.to_bits();
        }
        for (k, v) in activation::forward(rec, "x").1.iter().take(3).enumerate() {
            p[13 + k] = v.to_bits();
        }
        Ok(p)
    }

    /// Check that every buffer the kernels index stays below 2^32 values.
    fn check_sizes(&self, op: &str) -> Result<()> {
        let rows = self.batch * (self.steps + 1);
        for n in [rows * self.dgates_width().max(self.saved_width()), rows * self.state_width(), rows * self.features] {
            u32_of(op, "a buffer size", n)?;
        }
        Ok(())
    }
}

/// The WGSL of entry point `entry` with the activations `act` and `rec` spliced in: the
/// shader's common part and the entry point's section. `None` for an unknown entry point.
fn source(entry: &str, act: Activation, rec: Activation) -> Option<String> {
    let text = include_str!("../shaders/recurrent.wgsl");
    let mut parts = text.split("\n//// ");
    let common = parts.next()?;
    let section = parts.find(|s| s.lines().next().map(str::trim) == Some(entry))?;
    Some(
        format!("{}\n{common}\n// {section}", include_str!("../shaders/math.wgsl"))
            .replace("{{ACT}}", &activation::forward(act, "x").0)
            .replace("{{ACT_D}}", &activation::derivative(act, "x", "y").0)
            .replace("{{REC}}", &activation::forward(rec, "x").0)
            .replace("{{REC_D}}", &activation::derivative(rec, "x", "y").0),
    )
}

/// The pipeline of entry point `entry` for the activations `(act, rec)` (compiled once, cached).
fn kernel(gpu: &Gpu, op: &str, entry: &str, (act, rec): (Activation, Activation)) -> Result<Arc<wgpu::ComputePipeline>> {
    let key = format!("recurrent/{entry}/{}/{}", activation::key(act), activation::key(rec));
    if let Some(p) = gpu.pipelines.lock().get(&key) {
        return Ok(p.clone());
    }
    let source = source(entry, act, rec).ok_or_else(|| Error::Device { op: op.to_string(), expected: format!("a recurrent kernel {entry}"), got: "none in recurrent.wgsl".to_string() })?;
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(&key), source: wgpu::ShaderSource::Wgsl(source.into()) });
    let pipeline = Arc::new(gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&key),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    }));
    gpu.pipelines.lock().insert(key, pipeline.clone());
    Ok(pipeline)
}

/// Record `entry` over the B * U (sample, unit) pairs.
fn step(gpu: &Gpu, op: &str, entry: &str, seq: &Sequence, params: &[u32], buffers: &[&wgpu::Buffer]) -> Result<()> {
    let pipeline = kernel(gpu, op, entry, seq.activations())?;
    let n = u32_of(op, "a number of (sample, unit) pairs", seq.batch * seq.units)?;
    launch(gpu, &pipeline, params, buffers, grid(gpu, n.div_ceil(WORKGROUP)));
    Ok(())
}

/// A (rows, width) buffer whose every row is `width` values of `bias` from `start`.
fn bias_rows(op: &str, bias: &Tensor, start: usize, width: usize, rows: usize) -> Result<GpuBuffer> {
    let row = Tensor::from_storage(Layout { shape: vec![width], strides: vec![1], offset: bias.layout().offset + start }, bias.storage());
    elementwise(op, "copy", "x0", &[&row], &[rows, width], [0.0; 4])
}

/// Run the sequence forward. The state history's slots 1..=T are the op's output.
///
/// # Errors
/// `Device` when there is no GPU or a buffer exceeds what the adapter (or u32 indexing) allows.
pub fn forward(op: &str, seq: &Sequence, o: &Operands<'_>) -> Result<Forward> {
    let gpu = gpu(op)?;
    seq.check_sizes(op)?;
    let (b, t, f, u) = (seq.batch, seq.steps, seq.features, seq.units);
    let (gw, sw, sv) = (seq.gate_width(), seq.state_width(), seq.saved_width());
    let rows = b * t;
    let (xs, ks, rs, aux) = (o.x.storage(), o.kernel.storage(), o.recurrent.storage(), o.aux.storage());
    // pre = x @ kernel + the input bias.
    let pre = match o.bias {
        Some(bias) => bias_rows(op, bias, 0, gw, rows)?,
        None => GpuBuffer::uninit(op, rows * gw)?,
    };
    gemm_into(op, rows, gw, f, 1, BufView::rows(raw(&xs), 0, f), BufView::rows(raw(&ks), 0, gw), BufView::rows(pre.raw(), 0, gw), o.bias.is_some())?;
    // GRU reset_after: every step's recurrent projection, starting from the recurrent bias.
    // (One unread value for the other cells, as `saved` for SimpleRNN.)
    let rec = match (seq.reset_after(), o.bias) {
        (false, _) => GpuBuffer::uninit(op, 1)?,
        (true, Some(bias)) => bias_rows(op, bias, gw, gw, rows)?,
        (true, None) => fill_buffer(op, GpuBuffer::uninit(op, rows * gw)?, 0.0)?,
    };
    let saved = GpuBuffer::uninit(op, (rows * sv).max(1))?;
    let hist = GpuBuffer::uninit(op, b * (t + 1) * sw)?;
    let hp = GpuBuffer::uninit(op, rows * u)?;
    let dummy = GpuBuffer::uninit(op, 1)?;
    let (h0, c0) = (o.h0.map(Tensor::storage), o.c0.map(Tensor::storage));
    let h0_raw = h0.as_deref().map_or(dummy.raw(), raw);
    let c0_raw = c0.as_deref().map_or(dummy.raw(), raw);
    step(gpu, op, "rnn_init_f32", seq, &seq.params(op, 0, false)?, &[h0_raw, c0_raw, raw(&aux), hist.raw(), hp.raw()])?;
    let rk = raw(&rs);
    for s in 0..t {
        let params = seq.params(op, s, false)?;
        let row = seq.time(s);
        // h_{s-1} as read is zero at the first step without an initial state: no GEMM.
        let has_h = s > 0 || seq.h0;
        let hp_s = BufView { buffer: hp.raw(), offset: row * u, row_stride: t * u, col_stride: 1, batch_stride: 0 };
        let pre_s = |col: usize| BufView { buffer: pre.raw(), offset: row * gw + col, row_stride: t * gw, col_stride: 1, batch_stride: 0 };
        match seq.cell {
            Cell::Simple { .. } => {
                if has_h {
                    gemm_into(op, b, u, u, 1, hp_s, BufView::rows(rk, 0, gw), pre_s(0), true)?;
                }
                step(gpu, op, "simple_step_f32", seq, &params, &[pre.raw(), hist.raw(), hp.raw(), raw(&aux)])?;
            }
            Cell::Lstm { .. } => {
                if has_h {
                    gemm_into(op, b, gw, u, 1, hp_s, BufView::rows(rk, 0, gw), pre_s(0), true)?;
                }
                step(gpu, op, "lstm_step_f32", seq, &params, &[pre.raw(), saved.raw(), hist.raw(), hp.raw(), raw(&aux)])?;
            }
            Cell::Gru { reset_after: true, .. } => {
                if has_h {
                    let rec_s = BufView { buffer: rec.raw(), offset: row * gw, row_stride: t * gw, col_stride: 1, batch_stride: 0 };
                    gemm_into(op, b, gw, u, 1, hp_s, BufView::rows(rk, 0, gw), rec_s, true)?;
                }
                step(gpu, op, "gru_step_f32", seq, &params, &[pre.raw(), saved.raw(), rec.raw(), hist.raw(), hp.raw(), raw(&aux)])?;
            }
            Cell::Gru { reset_after: false, .. } => {
                if has_h {
                    gemm_into(op, b, 2 * u, u, 1, hp_s, BufView::rows(rk, 0, gw), pre_s(0), true)?;
                }
                step(gpu, op, "gru_gates_f32", seq, &params, &[pre.raw(), saved.raw(), hp.raw(), raw(&aux)])?;
                if has_h {
                    // The candidate's recurrent term from r * h_prev (saved's extra block).
                    let rh = BufView { buffer: saved.raw(), offset: row * sv + gw, row_stride: t * sv, col_stride: 1, batch_stride: 0 };
                    gemm_into(op, b, u, u, 1, rh, BufView::rows(rk, 2 * u, gw), pre_s(2 * u), true)?;
                }
                step(gpu, op, "gru_candidate_f32", seq, &params, &[pre.raw(), saved.raw(), hist.raw(), hp.raw(), raw(&aux)])?;
            }
        }
    }
    Ok(Forward { hist: Tensor::from_gpu(hist, &[b, t + 1, sw]), pre, saved, hp })
}

/// Backpropagation through time from `dstate`, the gradient of the output: (B, T, SW), or with
/// `last_only` (B, SW) for the last step. `need_dx`: whether the input's gradient is wanted.
///
/// # Errors
/// `Device` when there is no GPU or a buffer exceeds what the adapter allows.
pub fn backward(op: &str, seq: &Sequence, o: &Operands<'_>, fwd: &Forward, dstate: &Tensor, last_only: bool, need_dx: bool) -> Result<Grads> {
    let gpu = gpu(op)?;
    let (b, t, f, u) = (seq.batch, seq.steps, seq.features, seq.units);
    let (gw, sv, dw) = (seq.gate_width(), seq.saved_width(), seq.dgates_width());
    let rows = b * t;
    let (xs, ks, aux, hist, ds) = (o.x.storage(), o.kernel.storage(), o.aux.storage(), fwd.hist.storage(), dstate.storage());
    // The recurrent kernel transposed, (G*U, U) row-major: the per-step GEMMs read it by rows.
    let rl = o.recurrent.layout();
    let rt_view = Tensor::from_storage(Layout { shape: vec![gw, u], strides: vec![1, gw as isize], offset: rl.offset }, o.recurrent.storage());
    let rt = elementwise(op, "copy", "x0", &[&rt_view], &[gw, u], [0.0; 4])?;
    let dgates = GpuBuffer::uninit(op, rows * dw)?;
    let carry = fill_buffer(op, GpuBuffer::uninit(op, b * 3 * u)?, 0.0)?;
    let dummy = GpuBuffer::uninit(op, 1)?;
    let saved = &fwd.saved;
    let (pre, dg, cr) = (fwd.pre.raw(), dgates.raw(), carry.raw());
    // carry[block] = dgates_s[:, col..col + k] @ R^T[first..first + k, :]: dh_rec (block 2),
    // or for GRU reset before d(r * h_prev) (block 1).
    let back = |s: usize, col: usize, k: usize, first: usize, block: usize| {
        let a = BufView { buffer: dg, offset: seq.time(s) * dw + col, row_stride: t * dw, col_stride: 1, batch_stride: 0 };
        let c = BufView { buffer: cr, offset: block * u, row_stride: 3 * u, col_stride: 1, batch_stride: 0 };
        gemm_into(op, b, u, k, 1, a, BufView::rows(rt.raw(), first * u, u), c, false)
    };
    for s in (0..t).rev() {
        let params = seq.params(op, s, last_only)?;
        match seq.cell {
            Cell::Simple { .. } => {
                step(gpu, op, "simple_backward_f32", seq, &params, &[pre, raw(&hist), dg, cr, raw(&ds), raw(&aux)])?;
                back(s, 0, u, 0, 2)?;
            }
            Cell::Lstm { .. } => {
                step(gpu, op, "lstm_backward_f32", seq, &params, &[pre, saved.raw(), raw(&hist), dg, cr, raw(&ds), raw(&aux)])?;
                back(s, 0, gw, 0, 2)?;
            }
            Cell::Gru { reset_after: true, .. } => {
                step(gpu, op, "gru_backward_f32", seq, &params, &[pre, saved.raw(), raw(&hist), dg, cr, raw(&ds), raw(&aux)])?;
                // The recurrent side's gradients (the second half of the row).
                back(s, gw, gw, 0, 2)?;
            }
            Cell::Gru { reset_after: false, .. } => {
                step(gpu, op, "gru_gates_backward_f32", seq, &params, &[pre, saved.raw(), raw(&hist), dg, cr, raw(&ds), raw(&aux)])?;
                back(s, 2 * u, u, 2 * u, 1)?;
                step(gpu, op, "gru_reset_backward_f32", seq, &params, &[pre, saved.raw(), raw(&hist), dg, cr, raw(&aux)])?;
                back(s, 0, 2 * u, 0, 2)?;
            }
        }
    }
    let (dh0, dc0) = if seq.h0 || seq.c0 {
        let dh0 = GpuBuffer::uninit(op, b * u)?;
        let dc0 = if seq.c0 { Some(GpuBuffer::uninit(op, b * u)?) } else { None };
        let dc0_raw = dc0.as_ref().map_or(dummy.raw(), GpuBuffer::raw);
        step(gpu, op, "rnn_finish_f32", seq, &seq.params(op, 0, false)?, &[cr, raw(&aux), dh0.raw(), dc0_raw])?;
        (seq.h0.then_some(dh0), dc0)
    } else {
        (None, None)
    };
    // Weight gradients over every timestep at once.
    let dkernel = GpuBuffer::uninit(op, f * gw)?;
    gemm_into(op, f, gw, rows, 1, BufView::rows(raw(&xs), 0, f).t(), BufView::rows(dg, 0, dw), BufView::rows(dkernel.raw(), 0, gw), false)?;
    let drecurrent = GpuBuffer::uninit(op, u * gw)?;
    let hp_t = BufView::rows(fwd.hp.raw(), 0, u).t();
    match seq.cell {
        Cell::Gru { reset_after: false, .. } => {
            // z and r read h_prev; the candidate read r * h_prev (saved's extra block).
            gemm_into(op, u, 2 * u, rows, 1, hp_t, BufView::rows(dg, 0, dw), BufView::rows(drecurrent.raw(), 0, gw), false)?;
            let rh_t = BufView::rows(saved.raw(), gw, sv).t();
            gemm_into(op, u, u, rows, 1, rh_t, BufView::rows(dg, 2 * u, dw), BufView::rows(drecurrent.raw(), 2 * u, gw), false)?;
        }
        _ => {
            let col = if seq.reset_after() { gw } else { 0 };
            gemm_into(op, u, gw, rows, 1, hp_t, BufView::rows(dg, col, dw), BufView::rows(drecurrent.raw(), 0, gw), false)?;
        }
    }
    let dx = if need_dx {
        let dx = GpuBuffer::uninit(op, rows * f)?;
        gemm_into(op, rows, f, gw, 1, BufView::rows(dg, 0, dw), BufView::rows(raw(&ks), 0, gw).t(), BufView::rows(dx.raw(), 0, f), false)?;
        Some(dx)
    } else {
        None
    };
    let dbias = match o.bias {
        Some(_) => Some(column_sum(gpu, op, dg, rows, dw, seq)?),
        None => None,
    };
    Ok(Grads { dx, dkernel, drecurrent, dbias, dh0, dc0 })
}

/// Sums of the `cols` columns of a row-major (rows, cols) buffer.
fn column_sum(gpu: &Gpu, op: &str, x: &wgpu::Buffer, rows: usize, cols: usize, seq: &Sequence) -> Result<GpuBuffer> {
    let out = GpuBuffer::uninit(op, cols)?;
    let pipeline = kernel(gpu, op, "column_sum_f32", seq.activations())?;
    let params = [u32_of(op, "rows", rows)?, u32_of(op, "columns", cols)?, cols as u32];
    launch(gpu, &pipeline, &params, &[x, out.raw()], grid(gpu, (cols as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

/// Keras's output mask of a recurrent layer, (B, T) in processing order: 1 where the output is
/// the state (a real step, or with `zero_output_for_mask` off a masked step after a real one),
/// 0 where it is zeros. `mask` is (B, T) in the input's time order, row-major from element 0.
///
/// # Errors
/// `Device` when there is no GPU or the mask is too large for it.
pub fn output_mask(op: &str, mask: &Tensor, batch: usize, steps: usize, go_backwards: bool, zero_output_for_mask: bool) -> Result<GpuBuffer> {
    let gpu = gpu(op)?;
    let out = GpuBuffer::uninit(op, batch * steps)?;
    u32_of(op, "a mask size", batch * steps)?;
    let pipeline = kernel(gpu, op, "rnn_output_mask_f32", (Activation::Linear, Activation::Linear))?;
    let mut params = vec![0u32; 16];
    params[0] = batch as u32;
    params[1] = steps as u32;
    params[4] = u32::from(go_backwards);
    params[8] = u32::from(zero_output_for_mask);
    let storage = mask.storage();
    launch(gpu, &pipeline, &params, &[raw(&storage), out.raw()], grid(gpu, (batch as u32).div_ceil(WORKGROUP)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{source, Activation};
    use wgpu::naga;

    /// Every entry point of `recurrent.wgsl`, in file order.
    const ENTRIES: [&str; 14] = [
        "rnn_init_f32",
        "simple_step_f32",
        "lstm_step_f32",
        "gru_step_f32",
        "gru_gates_f32",
        "gru_candidate_f32",
        "simple_backward_f32",
        "lstm_backward_f32",
        "gru_backward_f32",
        "gru_gates_backward_f32",
        "gru_reset_backward_f32",
        "rnn_finish_f32",
        "column_sum_f32",
        "rnn_output_mask_f32",
    ];

    #[test]
    fn recurrent_shaders_validate_with_naga() {
        let sections = include_str!("../shaders/recurrent.wgsl").matches("\n//// ").count();
        assert_eq!(sections, ENTRIES.len(), "a section of recurrent.wgsl is missing from ENTRIES");
        let activations = [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::LeakyRelu { negative_slope: 0.2 },
            Activation::Elu { alpha: 1.0 },
            Activation::Selu,
            Activation::Gelu { approximate: false },
            Activation::Gelu { approximate: true },
            Activation::Softplus,
            Activation::Silu,
            Activation::HardSigmoid,
            Activation::ReluGeneral { max_value: 6.0, negative_slope: 0.1, threshold: 0.5 },
        ];
        for entry in ENTRIES {
            for (i, &act) in activations.iter().enumerate() {
                let rec = activations[(i + 3) % activations.len()];
                let src = source(entry, act, rec).unwrap_or_else(|| panic!("no section {entry}"));
                let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{entry} ({act:?}): {}", e.emit_to_string(&src)));
                naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
                    .validate(&module)
                    .unwrap_or_else(|e| panic!("{entry} ({act:?}): {e:?}"));
                let names: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
                assert_eq!(names, [entry], "one entry point per section");
            }
        }
        assert!(source("no_such_kernel", Activation::Tanh, Activation::Sigmoid).is_none());
    }
}

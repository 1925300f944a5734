// Recurrent cells over whole sequences (SimpleRNN, LSTM, GRU with the reset gate after or before
// the recurrent product), forward and backpropagation through time: the per-step gate kernels of
// `gpu::kernels::recurrent`, which runs the GEMMs (input projection of all steps, one recurrent
// product per step, weight gradients over all steps) with the GEMM kernel. They match
// `cpu::recurrent::{simple, lstm, gru}` step for step.
//
// This file is a common part followed by one section per entry point (a line starting with four
// slashes and the entry point's name); a pipeline is built from the common part and one section,
// so each entry point declares (and uses) exactly its own bindings, at 1, 2, ... in the order
// the launcher passes them. Binding 0 is always the params, `var<storage, read> p: array<u32>`.
//
// Entry points and bindings (r: read, rw: read_write; all `array<f32>` storage buffers):
//   rnn_init_f32            h0 r, c0 r, aux r, hist rw, hp rw
//   simple_step_f32         pre r, hist rw, hp rw, aux r
//   lstm_step_f32           pre r, saved rw, hist rw, hp rw, aux r
//   gru_step_f32            pre rw, saved rw, rec r, hist rw, hp rw, aux r        (reset_after)
//   gru_gates_f32           pre r, saved rw, hp r, aux r                          (reset before, 1)
//   gru_candidate_f32       pre r, saved rw, hist rw, hp rw, aux r                (reset before, 2)
//   simple_backward_f32     pre r, hist r, dgates rw, carry rw, dstate r, aux r
//   lstm_backward_f32       pre r, saved r, hist r, dgates rw, carry rw, dstate r, aux r
//   gru_backward_f32        pre r, saved r, hist r, dgates rw, carry rw, dstate r, aux r   (reset_after)
//   gru_gates_backward_f32  pre r, saved r, hist r, dgates rw, carry rw, dstate r, aux r   (reset before, 1)
//   gru_reset_backward_f32  pre r, saved r, hist r, dgates rw, carry rw, aux r            (reset before, 2)
//   rnn_finish_f32          carry r, aux r, dh0 rw, dc0 rw
//   column_sum_f32          x r, out rw
//   rnn_output_mask_f32     mask r, out rw
//
// Buffers (B batch, T steps, U units, G = gates * U, SW = state width, 2U for an LSTM else U):
//   pre     (B, T, G)      pre-activation gates, rows in the input's time order (see gate_row)
//   saved   (B, T, G + U)  activated gates, then the cell's extra value: LSTM act(c), GRU
//                          reset_after the recurrent candidate term h_prev U_h + b_rh, GRU reset
//                          before r * h_prev as read (cpu::recurrent::Saved)
//   rec     (B, T, G)      GRU reset_after: h_prev @ U + b_r (recurrent bias added beforehand)
//   hist    (B, T + 1, SW) states in processing order: slot 0 the initial state, slot s + 1 the
//                          state after step s (masked steps copy the previous slot)
//   hp      (B, T, U)      h_{s-1} as the recurrent kernel reads it (times the recurrent dropout
//                          mask), time-order rows: the recurrent GEMMs' left operand
//   aux     mask (B, T) in the input's time order at 0, recurrent dropout (B, U) at p[6]
//   dgates  (B, T, D)      pre-activation gate gradients (D = G; GRU reset_after 2G: the input
//                          side, then the recurrent side)
//   carry   (B, 3U)        per sample: dh (gradient reaching h_{s-1}), then dc (LSTM) or d(r*h)
//                          (GRU reset before), then dh_rec = dgates_s @ U^T before the dropout mask
//   dstate  the output's gradient: (B, T, SW), or (B, SW) for the last step only (flag 16)
//
// Params (u32; f32 by bitcast): 0 B, 1 T, 2 U, 3 step s (processing order), 4 go_backwards,
// 5 flags (1 mask, 2 recurrent dropout, 4 h0, 8 c0, 16 gradient of the last step only), 6 offset
// of the dropout mask in aux, 7 state width SW, 10..12 activation scalars s0..s2, 13..15
// recurrent activation scalars, 8 zero_output_for_mask (rnn_output_mask). column_sum_f32 reads
// its own: 0 rows, 1 columns, 2 row stride.
//
// Workgroup 256; one invocation per (sample, unit) pair, B * U of them (column_sum: one per
// column; rnn_output_mask: one per sample); dispatch ceil(n / 256) groups, folded into 2-D past the per-dimension limit (the flat
// group id is wid.y * nwg.x + wid.x). Every entry point returns early past its n. Strided
// operands are made row-major by the launcher; the kernels index row-major buffers only.

@group(0) @binding(0) var<storage, read> p: array<u32>;

const MASK: u32 = 1u;
const DROPOUT: u32 = 2u;
const H0: u32 = 4u;
const C0: u32 = 8u;
const LAST_ONLY: u32 = 16u;

fn flat_id(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 { return (wid.y * nwg.x + wid.x) * 256u + lid.x; }
fn has(flag: u32) -> bool { return (p[5] & flag) != 0u; }
// Row of sample b at processing step s in the time-ordered buffers (pre, saved, hp, dgates, the
// mask): go_backwards processes the input from its last step.
fn gate_row(b: u32, s: u32) -> u32 { return b * p[1] + select(s, p[1] - 1u - s, p[4] != 0u); }
// Row of sample b's slot k in the state history.
fn hist_row(b: u32, k: u32) -> u32 { return b * (p[1] + 1u) + k; }
fn rd_index(b: u32, j: u32) -> u32 { return p[6] + b * p[2] + j; }
const NONE: u32 = 0xffffffffu;
// Where dstate holds the output's gradient for sample b, step s, column col of a state sw wide;
// NONE when it has none there (only the last step's gradient was given).
fn dstate_index(b: u32, s: u32, col: u32, sw: u32) -> u32 {
    if (has(LAST_ONLY)) { return select(NONE, b * sw + col, s + 1u == p[1]); }
    return (b * p[1] + s) * sw + col;
}

// sigm, tanh_, expm1_, log1p_, erf_: math.wgsl, prepended to this source.

// The cell's activation and recurrent activation (spliced in from gpu::activation), with their
// derivatives from the input x and the output y.
fn act_(x: f32) -> f32 {
    let s0 = bitcast<f32>(p[10]); let s1 = bitcast<f32>(p[11]); let s2 = bitcast<f32>(p[12]);
    return {{ACT}};
}
fn act_d(x: f32, y: f32) -> f32 {
    let s0 = bitcast<f32>(p[10]); let s1 = bitcast<f32>(p[11]); let s2 = bitcast<f32>(p[12]);
    return {{ACT_D}};
}
fn rec_(x: f32) -> f32 {
    let s0 = bitcast<f32>(p[13]); let s1 = bitcast<f32>(p[14]); let s2 = bitcast<f32>(p[15]);
    return {{REC}};
}
fn rec_d(x: f32, y: f32) -> f32 {
    let s0 = bitcast<f32>(p[13]); let s1 = bitcast<f32>(p[14]); let s2 = bitcast<f32>(p[15]);
    return {{REC_D}};
}

//// rnn_init_f32
// hist slot 0 = [h0 | c0] (zeros when absent); hp at step 0 = h0 * dropout mask.
// Matches cpu::recurrent::h_as_read at s = 0 and the initial states the cells read.
@group(0) @binding(1) var<storage, read> h0: array<f32>;
@group(0) @binding(2) var<storage, read> c0: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> hist: array<f32>;
@group(0) @binding(5) var<storage, read_write> hp: array<f32>;

@compute @workgroup_size(256)
fn rnn_init_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let sw = p[7];
    var h = 0.0;
    if (has(H0)) { h = h0[i]; }
    hist[hist_row(b, 0u) * sw + j] = h;
    if (sw == 2u * u) {
        var c = 0.0;
        if (has(C0)) { c = c0[i]; }
        hist[hist_row(b, 0u) * sw + u + j] = c;
    }
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    hp[gate_row(b, 0u) * u + j] = h * m;
}

//// simple_step_f32
// h = act(pre) (pre already holds x W + b + h_prev U); masked steps carry h. cpu::recurrent::simple::forward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> hist: array<f32>;
@group(0) @binding(3) var<storage, read_write> hp: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn simple_step_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    var h = hist[hist_row(b, s) * u + j];
    if (!has(MASK) || aux[g] > 0.5) { h = act_(pre[g * u + j]); }
    hist[hist_row(b, s + 1u) * u + j] = h;
    if (s + 1u < p[1]) {
        var m = 1.0;
        if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
        hp[gate_row(b, s + 1u) * u + j] = h * m;
    }
}

//// lstm_step_f32
// Gates i, f, c, o: c = f * c_prev + i * act(g), h = o * act(c). cpu::recurrent::lstm::forward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> hp: array<f32>;
@group(0) @binding(5) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn lstm_step_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    let prev = hist_row(b, s) * 2u * u;
    let next = hist_row(b, s + 1u) * 2u * u;
    var h = hist[prev + j];
    var c = hist[prev + u + j];
    if (!has(MASK) || aux[g] > 0.5) {
        let pg = g * 4u * u;
        let ig = rec_(pre[pg + j]);
        let fg = rec_(pre[pg + u + j]);
        let gg = act_(pre[pg + 2u * u + j]);
        let og = rec_(pre[pg + 3u * u + j]);
        c = fg * c + ig * gg;
        let tc = act_(c);
        h = og * tc;
        let sv = g * 5u * u;
        saved[sv + j] = ig;
        saved[sv + u + j] = fg;
        saved[sv + 2u * u + j] = gg;
        saved[sv + 3u * u + j] = og;
        saved[sv + 4u * u + j] = tc;
    }
    hist[next + j] = h;
    hist[next + u + j] = c;
    if (s + 1u < p[1]) {
        var m = 1.0;
        if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
        hp[gate_row(b, s + 1u) * u + j] = h * m;
    }
}

//// gru_step_f32
// reset_after: z, r = rec_act(x W + b + rec), hh = act(x W_h + b_h + r * rec_h),
// h = z * h_prev + (1 - z) * hh; pre is rewritten to the full pre-activations.
// cpu::recurrent::gru::forward (reset_after).
@group(0) @binding(1) var<storage, read_write> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved: array<f32>;
@group(0) @binding(3) var<storage, read> rec: array<f32>;
@group(0) @binding(4) var<storage, read_write> hist: array<f32>;
@group(0) @binding(5) var<storage, read_write> hp: array<f32>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_step_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    var h = hist[hist_row(b, s) * u + j];
    if (!has(MASK) || aux[g] > 0.5) {
        let pg = g * 3u * u;
        let pz = pre[pg + j] + rec[pg + j];
        let pr = pre[pg + u + j] + rec[pg + u + j];
        let z = rec_(pz);
        let r = rec_(pr);
        let rh = rec[pg + 2u * u + j];
        let ph = pre[pg + 2u * u + j] + r * rh;
        let hh = act_(ph);
        pre[pg + j] = pz;
        pre[pg + u + j] = pr;
        pre[pg + 2u * u + j] = ph;
        let sv = g * 4u * u;
        saved[sv + j] = z;
        saved[sv + u + j] = r;
        saved[sv + 2u * u + j] = hh;
        saved[sv + 3u * u + j] = rh;
        h = z * h + (1.0 - z) * hh;
    }
    hist[hist_row(b, s + 1u) * u + j] = h;
    if (s + 1u < p[1]) {
        var m = 1.0;
        if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
        hp[gate_row(b, s + 1u) * u + j] = h * m;
    }
}

//// gru_gates_f32
// Reset before, phase 1: z, r = rec_act(pre) and r * h_prev (as read) into saved's extra, the
// left operand of the candidate's recurrent GEMM. Masked steps write a zero extra (read by the
// weight-gradient GEMM, times a zero gradient: it must be finite). cpu::recurrent::gru::forward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved: array<f32>;
@group(0) @binding(3) var<storage, read> hp: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_gates_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let g = gate_row(b, p[3]);
    let sv = g * 4u * u;
    if (has(MASK) && aux[g] <= 0.5) {
        saved[sv + 3u * u + j] = 0.0;
        return;
    }
    let pg = g * 3u * u;
    let z = rec_(pre[pg + j]);
    let r = rec_(pre[pg + u + j]);
    saved[sv + j] = z;
    saved[sv + u + j] = r;
    saved[sv + 3u * u + j] = r * hp[g * u + j];
}

//// gru_candidate_f32
// Reset before, phase 2 (pre's candidate now holds x W_h + b_h + (r * h_prev) U_h):
// hh = act(pre_h), h = z * h_prev + (1 - z) * hh. cpu::recurrent::gru::forward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> hp: array<f32>;
@group(0) @binding(5) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_candidate_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    var h = hist[hist_row(b, s) * u + j];
    if (!has(MASK) || aux[g] > 0.5) {
        let sv = g * 4u * u;
        let hh = act_(pre[g * 3u * u + 2u * u + j]);
        saved[sv + 2u * u + j] = hh;
        let z = saved[sv + j];
        h = z * h + (1.0 - z) * hh;
    }
    hist[hist_row(b, s + 1u) * u + j] = h;
    if (s + 1u < p[1]) {
        var m = 1.0;
        if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
        hp[gate_row(b, s + 1u) * u + j] = h * m;
    }
}

//// simple_backward_f32
// dh = carried dh + dh_rec * dropout + the output's gradient; dgates = dh * act'(pre, h); a masked
// step passes dh through. cpu::recurrent::simple::backward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> hist: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(4) var<storage, read_write> carry: array<f32>;
@group(0) @binding(5) var<storage, read> dstate: array<f32>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn simple_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    let dk = dstate_index(b, s, j, u);
    var dsh = 0.0;
    if (dk != NONE) { dsh = dstate[dk]; }
    let dh = carry[b * 3u * u + j] + carry[b * 3u * u + 2u * u + j] * m + dsh;
    if (has(MASK) && aux[g] <= 0.5) {
        dgates[g * u + j] = 0.0;
        carry[b * 3u * u + j] = dh;
        return;
    }
    dgates[g * u + j] = dh * act_d(pre[g * u + j], hist[hist_row(b, s + 1u) * u + j]);
    carry[b * 3u * u + j] = 0.0;
}

//// lstm_backward_f32
// cpu::recurrent::lstm::backward: d_o = dh act(c) rec'(o), dc' = dc + dh o act'(c), di = dc' g
// rec'(i), dg = dc' i act'(g), df = dc' c_prev rec'(f); dc carries dc' f, dh restarts at zero.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(5) var<storage, read_write> carry: array<f32>;
@group(0) @binding(6) var<storage, read> dstate: array<f32>;
@group(0) @binding(7) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn lstm_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    let cb = b * 3u * u;
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    let dk = dstate_index(b, s, j, 2u * u);
    var dsh = 0.0;
    var dsc = 0.0;
    if (dk != NONE) { dsh = dstate[dk]; dsc = dstate[dk + u]; }
    let dh = carry[cb + j] + carry[cb + 2u * u + j] * m + dsh;
    let dc = carry[cb + u + j] + dsc;
    let dg = g * 4u * u;
    if (has(MASK) && aux[g] <= 0.5) {
        for (var k = 0u; k < 4u; k++) { dgates[dg + k * u + j] = 0.0; }
        carry[cb + j] = dh;
        carry[cb + u + j] = dc;
        return;
    }
    let sv = g * 5u * u;
    let ig = saved[sv + j];
    let fg = saved[sv + u + j];
    let gg = saved[sv + 2u * u + j];
    let og = saved[sv + 3u * u + j];
    let tc = saved[sv + 4u * u + j];
    let c = hist[hist_row(b, s + 1u) * 2u * u + u + j];
    let c_prev = hist[hist_row(b, s) * 2u * u + u + j];
    let pg = g * 4u * u;
    let dcn = dc + dh * og * act_d(c, tc);
    dgates[dg + j] = dcn * gg * rec_d(pre[pg + j], ig);
    dgates[dg + u + j] = dcn * c_prev * rec_d(pre[pg + u + j], fg);
    dgates[dg + 2u * u + j] = dcn * ig * act_d(pre[pg + 2u * u + j], gg);
    dgates[dg + 3u * u + j] = dh * tc * rec_d(pre[pg + 3u * u + j], og);
    carry[cb + j] = 0.0;
    carry[cb + u + j] = dcn * fg;
}

//// gru_backward_f32
// reset_after, cpu::recurrent::gru::backward: dz = dh (h_prev - hh) rec'(z), dph = dh (1 - z)
// act'(hh), dr = dph rec_h rec'(r); the recurrent side's candidate gradient is dph * r. dh
// carries dh * z. dgates rows: [dz, dr, dph] then [dz, dr, dph * r].
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(5) var<storage, read_write> carry: array<f32>;
@group(0) @binding(6) var<storage, read> dstate: array<f32>;
@group(0) @binding(7) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    let cb = b * 3u * u;
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    let dk = dstate_index(b, s, j, u);
    var dsh = 0.0;
    if (dk != NONE) { dsh = dstate[dk]; }
    let dh = carry[cb + j] + carry[cb + 2u * u + j] * m + dsh;
    let dg = g * 6u * u;
    if (has(MASK) && aux[g] <= 0.5) {
        for (var k = 0u; k < 6u; k++) { dgates[dg + k * u + j] = 0.0; }
        carry[cb + j] = dh;
        return;
    }
    let sv = g * 4u * u;
    let z = saved[sv + j];
    let r = saved[sv + u + j];
    let hh = saved[sv + 2u * u + j];
    let rh = saved[sv + 3u * u + j];
    let h_prev = hist[hist_row(b, s) * u + j];
    let pg = g * 3u * u;
    let dph = dh * (1.0 - z) * act_d(pre[pg + 2u * u + j], hh);
    let dz = dh * (h_prev - hh) * rec_d(pre[pg + j], z);
    let dr = dph * rh * rec_d(pre[pg + u + j], r);
    dgates[dg + j] = dz;
    dgates[dg + u + j] = dr;
    dgates[dg + 2u * u + j] = dph;
    dgates[dg + 3u * u + j] = dz;
    dgates[dg + 4u * u + j] = dr;
    dgates[dg + 5u * u + j] = dph * r;
    carry[cb + j] = dh * z;
}

//// gru_gates_backward_f32
// Reset before, phase 1, cpu::recurrent::gru::backward: dz and the candidate's dph as with
// reset_after; dr follows in phase 2, after the GEMM that takes dph back through U_h.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(5) var<storage, read_write> carry: array<f32>;
@group(0) @binding(6) var<storage, read> dstate: array<f32>;
@group(0) @binding(7) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_gates_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    let cb = b * 3u * u;
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    let dk = dstate_index(b, s, j, u);
    var dsh = 0.0;
    if (dk != NONE) { dsh = dstate[dk]; }
    let dh = carry[cb + j] + carry[cb + 2u * u + j] * m + dsh;
    let dg = g * 3u * u;
    if (has(MASK) && aux[g] <= 0.5) {
        for (var k = 0u; k < 3u; k++) { dgates[dg + k * u + j] = 0.0; }
        carry[cb + j] = dh;
        return;
    }
    let sv = g * 4u * u;
    let z = saved[sv + j];
    let hh = saved[sv + 2u * u + j];
    let h_prev = hist[hist_row(b, s) * u + j];
    let pg = g * 3u * u;
    dgates[dg + j] = dh * (h_prev - hh) * rec_d(pre[pg + j], z);
    dgates[dg + 2u * u + j] = dh * (1.0 - z) * act_d(pre[pg + 2u * u + j], hh);
    carry[cb + j] = dh * z;
}

//// gru_reset_backward_f32
// Reset before, phase 2: carry's middle block holds d(r * h_prev) = dph @ U_h^T; dr = that *
// h_prev * dropout * rec'(r), and dh gains that * r * dropout. cpu::recurrent::gru::backward.
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> hist: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(5) var<storage, read_write> carry: array<f32>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;

@compute @workgroup_size(256)
fn gru_reset_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let s = p[3];
    let g = gate_row(b, s);
    if (has(MASK) && aux[g] <= 0.5) { return; }
    let cb = b * 3u * u;
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    let d = carry[cb + u + j];
    let r = saved[g * 4u * u + u + j];
    let h_prev = hist[hist_row(b, s) * u + j];
    dgates[g * 3u * u + u + j] = d * h_prev * m * rec_d(pre[g * 3u * u + u + j], r);
    carry[cb + j] = carry[cb + j] + d * r * m;
}

//// rnn_finish_f32
// The initial states' gradients after step 0: dh0 = dh + dh_rec * dropout, dc0 = dc.
@group(0) @binding(1) var<storage, read> carry: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh0: array<f32>;
@group(0) @binding(4) var<storage, read_write> dc0: array<f32>;

@compute @workgroup_size(256)
fn rnn_finish_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(wid, lid, nwg);
    let u = p[2];
    if (i >= p[0] * u) { return; }
    let b = i / u;
    let j = i % u;
    let cb = b * 3u * u;
    var m = 1.0;
    if (has(DROPOUT)) { m = aux[rd_index(b, j)]; }
    dh0[i] = carry[cb + j] + carry[cb + 2u * u + j] * m;
    if (has(C0)) { dc0[i] = carry[cb + u + j]; }
}

//// column_sum_f32
// out[c] = sum over rows r of x[r * stride + c] (the bias gradient: gate gradients summed over
// every sample and step, in row order). One invocation per column.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn column_sum_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_id(wid, lid, nwg);
    if (c >= p[1]) { return; }
    var acc = 0.0;
    for (var r = 0u; r < p[0]; r++) { acc += x[r * p[2] + c]; }
    out[c] = acc;
}

//// rnn_output_mask_f32
// Keras's output mask in processing order: out[b, s] = 1 where step s is real, or (without
// zero_output_for_mask) masked after a real step (the output repeats the last one); else 0,
// the zeros before the first real step. nn::layers::recurrent's output mask on the CPU.
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn rnn_output_mask_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(wid, lid, nwg);
    if (b >= p[0]) { return; }
    var seen = false;
    for (var s = 0u; s < p[1]; s++) {
        let real = mask[gate_row(b, s)] > 0.5;
        seen = seen || real;
        out[b * p[1] + s] = select(0.0, 1.0, real || (seen && p[8] == 0u));
    }
}

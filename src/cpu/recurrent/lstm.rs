//! LSTM (Keras gate order i, f, c, o):
//! `c = f * c_prev + i * act(g)`, `h = o * act(c)`, gates `rec_act(x W + h_prev U + b)`.
//! One batch slice, on the calling thread (`mod.rs` runs the slices in parallel).

use super::{active, activate, activate_in_place, add_to_bias, backprop, input_projection, recurrent_backward, recurrent_input, Buffers, GradBuffers, Problem, SavedPart, StateGrad};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm_into_serial, MatRef};

// Inlined into the AVX2-compiled slice loop (`for_batch_parts`), so the gate math vectorises.
#[inline(always)]
pub(super) fn forward(p: &Problem<'_>, act_fn: Activation, rec_fn: Activation, out: Buffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let (gw, sw) = (4 * u, 2 * u);
    let Buffers { pre, act, states, extra } = out;
    input_projection(p, pre);
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in 0..t {
        if let Some(h) = recurrent_input(p, states, s, &mut scratch) {
            gemm_into_serial(n, gw, u, h, MatRef::row_major(p.recurrent, gw), pre, s * gw, t * gw, true);
        }
        for b in 0..n {
            let row = b * t + s;
            let (before, rest) = states.split_at_mut(row * sw);
            let st = &mut rest[..sw];
            let (h_prev, c_prev): (&[f32], &[f32]) = if s > 0 {
                let prev = &before[(row - 1) * sw..];
                (&prev[..u], &prev[u..sw])
            } else {
                (p.h0.map_or(&zeros[..], |h| &h[b * u..(b + 1) * u]), p.c0.map_or(&zeros[..], |c| &c[b * u..(b + 1) * u]))
            };
            if !active(p, b, s) {
                st[..u].copy_from_slice(h_prev);
                st[u..].copy_from_slice(c_prev);
                continue;
            }
            let pg = &mut pre[row * gw..(row + 1) * gw];
            let tc = &mut extra[row * u..(row + 1) * u];
            // The gates, activated in place when no backward needs the pre-activations.
            let ag: &[f32] = if act.is_empty() {
                activate_in_place(rec_fn, &mut pg[..2 * u]);
                activate_in_place(act_fn, &mut pg[2 * u..3 * u]);
                activate_in_place(rec_fn, &mut pg[3 * u..]);
                pg
            } else {
                let ag = &mut act[row * gw..(row + 1) * gw];
                activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
                activate(act_fn, &pg[2 * u..3 * u], &mut ag[2 * u..3 * u]);
                activate(rec_fn, &pg[3 * u..], &mut ag[3 * u..]);
                ag
            };
            let (i, rest) = ag.split_at(u);
            let (f, rest) = rest.split_at(u);
            let (g, o) = rest.split_at(u);
            let (h, c) = st.split_at_mut(u);
            for (c, ((f, cp), (i, g))) in c.iter_mut().zip(f.iter().zip(c_prev).zip(i.iter().zip(g))) {
                *c = f * cp + i * g;
            }
            activate(act_fn, c, tc);
            for (h, (o, tc)) in h.iter_mut().zip(o.iter().zip(tc.iter())) {
                *h = o * tc;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn backward(p: &Problem<'_>, saved: &SavedPart<'_>, states: &[f32], dstates: StateGrad<'_>, rt: &[f32], act_fn: Activation, rec_fn: Activation, g: GradBuffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let (gw, sw) = (4 * u, 2 * u);
    // dh / dc hold the gradient reaching each sample's previous state; after step 0, the
    // initial states' gradients.
    let GradBuffers { dpre, dh: dh_next, dc: dc_next, db, .. } = g;
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in (0..t).rev() {
        for b in 0..n {
            let row = b * t + s;
            let dg = &mut dpre[row * gw..(row + 1) * gw];
            let dh = &mut dh_next[b * u..(b + 1) * u];
            let dc = &mut dc_next[b * u..(b + 1) * u];
            if let Some(ds) = dstates.at(t, sw, b, s) {
                dh.iter_mut().zip(&ds[..u]).for_each(|(d, g)| *d += g);
                dc.iter_mut().zip(&ds[u..]).for_each(|(d, g)| *d += g);
            }
            if !active(p, b, s) {
                // The state passed through: its gradient goes on to the previous step.
                dg.fill(0.0);
                continue;
            }
            // Gates activated in place: `pre` holds the activated values (the derivatives need
            // only those).
            let acts = if saved.act.is_empty() { saved.pre } else { saved.act };
            let (pg, ag) = (&saved.pre[row * gw..(row + 1) * gw], &acts[row * gw..(row + 1) * gw]);
            let tc = &saved.extra[row * u..(row + 1) * u];
            let c = &states[row * sw + u..(row + 1) * sw];
            let c_prev = if s > 0 { &states[(row - 1) * sw + u..row * sw] } else { p.c0.map_or(&zeros[..], |c| &c[b * u..(b + 1) * u]) };
            let (i, rest) = ag.split_at(u);
            let (fg, rest) = rest.split_at(u);
            let (gg, o) = rest.split_at(u);
            let (di, rest) = dg.split_at_mut(u);
            let (df, rest) = rest.split_at_mut(u);
            let (dgg, d_o) = rest.split_at_mut(u);
            let dg = (di, df, dgg, d_o);
            if act_fn == Activation::Tanh && rec_fn == Activation::Sigmoid {
                fused_step_backward(dh, dc, tc, c_prev, Gates { i, f: fg, g: gg, o }, dg);
            } else {
                let (di, df, dgg, d_o) = dg;
                // Every slice cut to `u`, so the loops below compile without bounds checks.
                let (dh, dc, tc, c_prev, o, i, fg, gg) = (&dh[..u], &mut dc[..u], &tc[..u], &c_prev[..u], &o[..u], &i[..u], &fg[..u], &gg[..u]);
                let (di, df, dgg, d_o) = (&mut di[..u], &mut df[..u], &mut dgg[..u], &mut d_o[..u]);
                // d_o = dh * act(c); the gradient reaching c through h, into dgg as scratch.
                for j in 0..u {
                    d_o[j] = dh[j] * tc[j];
                    dgg[j] = dh[j] * o[j];
                }
                backprop(act_fn, c, tc, dgg);
                for j in 0..u {
                    let dcn = dc[j] + dgg[j];
                    di[j] = dcn * gg[j];
                    dgg[j] = dcn * i[j];
                    df[j] = dcn * c_prev[j];
                    dc[j] = dcn * fg[j];
                }
                let dg = &mut dpre[row * gw..(row + 1) * gw];
                backprop(rec_fn, &pg[..2 * u], &ag[..2 * u], &mut dg[..2 * u]);
                backprop(act_fn, &pg[2 * u..3 * u], &ag[2 * u..3 * u], &mut dg[2 * u..3 * u]);
                backprop(rec_fn, &pg[3 * u..], &ag[3 * u..], &mut dg[3 * u..]);
            }
            if !db.is_empty() {
                add_to_bias(&mut db[b * gw..(b + 1) * gw], &dpre[row * gw..(row + 1) * gw]);
            }
            // Filled by the recurrent GEMM below.
            dh_next[b * u..(b + 1) * u].fill(0.0);
        }
        recurrent_backward(p, rt, dpre, gw, 0, gw, s, dh_next, &mut scratch);
    }
}

/// One sample's activated gates at one step.
struct Gates<'a> {
    i: &'a [f32],
    f: &'a [f32],
    g: &'a [f32],
    o: &'a [f32],
}

/// The backward of one sample's step for Keras's default activations (tanh, sigmoid gates), in
/// one pass: the derivatives come from the activated values. A function of its own so its slices
/// are known not to alias (parameters), which lets LLVM vectorise the loop; spread over the
/// step's code, twelve pointers exceeded the run-time alias checks it will emit.
#[inline(always)]
fn fused_step_backward(dh: &[f32], dc: &mut [f32], tc: &[f32], c_prev: &[f32], gates: Gates<'_>, dg: (&mut [f32], &mut [f32], &mut [f32], &mut [f32])) {
    let u = dh.len();
    let (dc, tc, c_prev) = (&mut dc[..u], &tc[..u], &c_prev[..u]);
    let (i, f, g, o) = (&gates.i[..u], &gates.f[..u], &gates.g[..u], &gates.o[..u]);
    let (di, df, dgg, d_o) = (&mut dg.0[..u], &mut dg.1[..u], &mut dg.2[..u], &mut dg.3[..u]);
    for j in 0..u {
        let (dhj, tcj, oj, ij, fj, gj) = (dh[j], tc[j], o[j], i[j], f[j], g[j]);
        d_o[j] = dhj * tcj * oj * (1.0 - oj);
        let dcn = dc[j] + dhj * oj * (1.0 - tcj * tcj);
        di[j] = dcn * gj * ij * (1.0 - ij);
        dgg[j] = dcn * ij * (1.0 - gj * gj);
        df[j] = dcn * c_prev[j] * fj * (1.0 - fj);
        dc[j] = dcn * fj;
    }
}

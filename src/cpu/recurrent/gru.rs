//! GRU (Keras gate order z, r, h): `h = z * h_prev + (1 - z) * hh`.
//! reset_after (Keras's default, cuDNN's form): `hh = act(x W_h + b_h + r * (h_prev U_h + b_rh))`,
//! one recurrent GEMM per step over all three gates.
//! reset before: `hh = act(x W_h + b_h + (r * h_prev) U_h)`, a second GEMM per step after r.
//! One batch slice, on the calling thread (`mod.rs` runs the slices in parallel).

use super::{active, activate, add_to_bias, backprop, input_projection, recurrent_backward, recurrent_input, Buffers, GradBuffers, Problem, SavedPart, StateGrad};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm_into_serial, MatRef};

/// Sample `b`'s `h_{s-1}` (not dropped out): the previous step's state or the initial state.
fn h_prev<'a>(p: &Problem<'a>, states: &'a [f32], b: usize, s: usize, zeros: &'a [f32]) -> &'a [f32] {
    let (u, t) = (p.units, p.steps);
    if s > 0 {
        &states[(b * t + s - 1) * u..(b * t + s) * u]
    } else {
        p.h0.map_or(zeros, |h| &h[b * u..(b + 1) * u])
    }
}

/// The recurrent kernel's columns from `col0` on, as a GEMM operand.
fn rk<'a>(p: &Problem<'a>, col0: usize) -> MatRef<'a> {
    MatRef { data: p.recurrent, offset: col0, row_stride: (3 * p.units) as isize, col_stride: 1 }
}

/// `h = z * h_prev + (1 - z) * hh` into sample `b`'s step-`s` state.
#[inline(always)]
fn mix(p: &Problem<'_>, states: &mut [f32], ag: &[f32], b: usize, s: usize, zeros: &[f32]) {
    let (u, t) = (p.units, p.steps);
    let row = b * t + s;
    let (before, rest) = states.split_at_mut(row * u);
    let hp: &[f32] = if s > 0 { &before[(row - 1) * u..] } else { p.h0.map_or(zeros, |h| &h[b * u..(b + 1) * u]) };
    let (h, hp) = (&mut rest[..u], &hp[..u]);
    let (z, hh) = (&ag[..u], &ag[2 * u..3 * u]);
    for j in 0..u {
        h[j] = z[j] * hp[j] + (1.0 - z[j]) * hh[j];
    }
}

// Inlined into the AVX2-compiled slice loop (`for_batch_parts`), so the gate math vectorises.
#[inline(always)]
pub(super) fn forward(p: &Problem<'_>, act_fn: Activation, rec_fn: Activation, reset_after: bool, out: Buffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let gw = 3 * u;
    let Buffers { pre, act, states, extra } = out;
    input_projection(p, pre);
    let mut scratch = vec![0.0f32; n * u];
    // reset_after: the recurrent projection of one step, (b, 3U), with the recurrent bias row.
    let mut rec = vec![0.0f32; n * gw];
    let zeros = vec![0.0f32; u];
    let rec_bias = p.bias.filter(|_| reset_after).map(|b| &b[gw..]);
    for s in 0..t {
        let has_h = match recurrent_input(p, states, s, &mut scratch) {
            Some(h) if reset_after => {
                gemm_into_serial(n, gw, u, h, rk(p, 0), &mut rec, 0, gw, false);
                true
            }
            Some(h) => {
                gemm_into_serial(n, 2 * u, u, h, rk(p, 0), pre, s * gw, t * gw, true);
                true
            }
            None => false,
        };
        if reset_after {
            if !has_h {
                rec.fill(0.0);
            }
            if let Some(rb) = rec_bias {
                rec.chunks_mut(gw).for_each(|r| r.iter_mut().zip(rb).for_each(|(v, b)| *v += b));
            }
        }
        // Phase 1: z and r; reset_after also finishes the candidate and the state.
        for b in 0..n {
            let row = b * t + s;
            let pg = &mut pre[row * gw..(row + 1) * gw];
            let ag = &mut act[row * gw..(row + 1) * gw];
            let ex = &mut extra[row * u..(row + 1) * u];
            if !active(p, b, s) {
                // Read by the weight-gradient GEMM (times a zero gradient): must be finite.
                ex.fill(0.0);
                continue;
            }
            if reset_after {
                let rg = &rec[b * gw..(b + 1) * gw];
                pg[..2 * u].iter_mut().zip(&rg[..2 * u]).for_each(|(v, r)| *v += r);
                activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
                ex.copy_from_slice(&rg[2 * u..]);
                let r = &ag[u..2 * u];
                pg[2 * u..].iter_mut().zip(r.iter().zip(ex.iter())).for_each(|(v, (r, rh))| *v += r * rh);
                activate(act_fn, &pg[2 * u..], &mut ag[2 * u..]);
                mix(p, states, ag, b, s, &zeros);
            } else {
                activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
                // r * h_prev as the recurrent kernel reads h_prev (after recurrent dropout).
                let r = &ag[u..2 * u];
                if has_h {
                    let hu: &[f32] = if s > 0 && p.recurrent_dropout.is_none() { h_prev(p, states, b, s, &zeros) } else { &scratch[b * u..(b + 1) * u] };
                    ex.iter_mut().zip(r.iter().zip(hu)).for_each(|(e, (r, h))| *e = r * h);
                } else {
                    ex.fill(0.0);
                }
            }
        }
        if !reset_after {
            // Phase 2: the candidate's recurrent term from r * h_prev, then the state.
            if has_h {
                let rhp = MatRef { data: extra, offset: s * u, row_stride: (t * u) as isize, col_stride: 1 };
                gemm_into_serial(n, u, u, rhp, rk(p, 2 * u), pre, s * gw + 2 * u, t * gw, true);
            }
            for b in (0..n).filter(|&b| active(p, b, s)) {
                let row = b * t + s;
                let ag = &mut act[row * gw..(row + 1) * gw];
                activate(act_fn, &pre[row * gw + 2 * u..(row + 1) * gw], &mut ag[2 * u..]);
                mix(p, states, ag, b, s, &zeros);
            }
        }
        // Masked samples carry their state.
        for b in (0..n).filter(|&b| !active(p, b, s)) {
            let row = b * t + s;
            let (before, rest) = states.split_at_mut(row * u);
            let prev: &[f32] = if s > 0 { &before[(row - 1) * u..] } else { p.h0.map_or(&zeros[..], |h| &h[b * u..(b + 1) * u]) };
            rest[..u].copy_from_slice(&prev[..u]);
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn backward(p: &Problem<'_>, saved: &SavedPart<'_>, states: &[f32], dstates: StateGrad<'_>, rt: &[f32], act_fn: Activation, rec_fn: Activation, reset_after: bool, g: GradBuffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let gw = 3 * u;
    // reset_after: `drec` holds the recurrent side's gate gradients [dz, dr, d(h_prev U_h + b_rh)].
    let GradBuffers { dpre, drec, dh: dh_next, db, .. } = g;
    let mut scratch = vec![0.0f32; n * u];
    let mut drhp = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in (0..t).rev() {
        for b in 0..n {
            let row = b * t + s;
            let dg = &mut dpre[row * gw..(row + 1) * gw];
            let dh = &mut dh_next[b * u..(b + 1) * u];
            if let Some(ds) = dstates.at(t, u, b, s) {
                dh.iter_mut().zip(ds).for_each(|(d, g)| *d += g);
            }
            if !active(p, b, s) {
                dg.fill(0.0);
                if reset_after {
                    drec[row * gw..(row + 1) * gw].fill(0.0);
                }
                continue;
            }
            let (pg, ag) = (&saved.pre[row * gw..(row + 1) * gw], &saved.act[row * gw..(row + 1) * gw]);
            let hp = h_prev(p, states, b, s, &zeros);
            let (z, r, hh, hp) = (&ag[..u], &ag[u..2 * u], &ag[2 * u..3 * u], &hp[..u]);
            let (dz, rest) = dg.split_at_mut(u);
            let (dr, dph) = rest.split_at_mut(u);
            mix_backward(dh, hp, z, hh, dz, dph);
            backprop(act_fn, &pg[2 * u..], hh, dph);
            if reset_after {
                let rh = &saved.extra[row * u..(row + 1) * u];
                let drg = &mut drec[row * gw..(row + 1) * gw];
                reset_after_backward(dph, rh, r, dr, &mut drg[2 * u..]);
                backprop(rec_fn, &pg[..2 * u], &ag[..2 * u], &mut dg[..2 * u]);
                drg[..2 * u].copy_from_slice(&dg[..2 * u]);
                if !db.is_empty() {
                    let (db_in, db_rec) = db[b * 2 * gw..(b + 1) * 2 * gw].split_at_mut(gw);
                    add_to_bias(db_in, dg);
                    add_to_bias(db_rec, drg);
                }
            } else {
                backprop(rec_fn, &pg[..u], z, &mut dg[..u]);
            }
        }
        if reset_after {
            recurrent_backward(p, rt, drec, gw, 0, gw, s, dh_next, &mut scratch);
            continue;
        }
        // Reset before: the candidate's GEMM ran on r * h_prev; its gradient feeds r and h_prev.
        let a = MatRef { data: dpre, offset: s * gw + 2 * u, row_stride: (t * gw) as isize, col_stride: 1 };
        let r_h = MatRef { data: rt, offset: 2 * u * u, row_stride: u as isize, col_stride: 1 };
        gemm_into_serial(n, u, u, a, r_h, &mut drhp, 0, u, false);
        for b in (0..n).filter(|&b| active(p, b, s)) {
            let row = b * t + s;
            let dg = &mut dpre[row * gw..(row + 1) * gw];
            let dh = &mut dh_next[b * u..(b + 1) * u];
            let ag = &saved.act[row * gw..(row + 1) * gw];
            let hp = h_prev(p, states, b, s, &zeros);
            let rd = p.recurrent_dropout.map(|m| &m[b * u..(b + 1) * u]);
            let (r, d) = (&ag[u..2 * u], &drhp[b * u..(b + 1) * u]);
            reset_before_backward(d, hp, r, rd, &mut dg[u..2 * u], dh);
            backprop(rec_fn, &saved.pre[row * gw + u..row * gw + 2 * u], r, &mut dg[u..2 * u]);
            if !db.is_empty() {
                add_to_bias(&mut db[b * gw..(b + 1) * gw], dg);
            }
        }
        recurrent_backward(p, rt, dpre, gw, 0, 2 * u, s, dh_next, &mut scratch);
    }
}

// The per-unit loops of the backward step, as functions of their own: their slice parameters
// are known not to alias, so LLVM vectorises them (inline, with the step's many slices in one
// body, it left them scalar).

/// Through `h = z * h_prev + (1 - z) * hh`: `dz`, `dhh` (into `dph`), and `dh *= z` (the part
/// of the gradient that reaches h_prev directly).
#[inline(always)]
fn mix_backward(dh: &mut [f32], hp: &[f32], z: &[f32], hh: &[f32], dz: &mut [f32], dph: &mut [f32]) {
    let u = dh.len();
    let (hp, z, hh, dz, dph) = (&hp[..u], &z[..u], &hh[..u], &mut dz[..u], &mut dph[..u]);
    for j in 0..u {
        dz[j] = dh[j] * (hp[j] - hh[j]);
        dph[j] = dh[j] * (1.0 - z[j]);
        dh[j] *= z[j];
    }
}

/// reset_after, through `r * rh`: the reset gate's gradient and the recurrent candidate term's.
#[inline(always)]
fn reset_after_backward(dph: &[f32], rh: &[f32], r: &[f32], dr: &mut [f32], drh: &mut [f32]) {
    let u = dph.len();
    let (rh, r, dr, drh) = (&rh[..u], &r[..u], &mut dr[..u], &mut drh[..u]);
    for j in 0..u {
        dr[j] = dph[j] * rh[j];
        drh[j] = dph[j] * r[j];
    }
}

/// Reset before, through `r * h_prev` (times the recurrent dropout mask `rd`): `d` is that
/// product's gradient.
#[inline(always)]
fn reset_before_backward(d: &[f32], hp: &[f32], r: &[f32], rd: Option<&[f32]>, dr: &mut [f32], dh: &mut [f32]) {
    let u = d.len();
    let (hp, r, dr, dh) = (&hp[..u], &r[..u], &mut dr[..u], &mut dh[..u]);
    match rd {
        None => {
            for j in 0..u {
                dr[j] = d[j] * hp[j];
                dh[j] += d[j] * r[j];
            }
        }
        Some(m) => {
            let m = &m[..u];
            for j in 0..u {
                dr[j] = d[j] * hp[j] * m[j];
                dh[j] += d[j] * r[j] * m[j];
            }
        }
    }
}

//! GRU (Keras gate order z, r, h): `h = z * h_prev + (1 - z) * hh`.
//! reset_after (Keras's default, cuDNN's form): `hh = act(x W_h + b_h + r * (h_prev U_h + b_rh))`,
//! one recurrent GEMM per step over all three gates.
//! reset before: `hh = act(x W_h + b_h + (r * h_prev) U_h)`, a second GEMM per step after r.

use super::{active, activate, backprop, for_samples, input_projection, previous_h, recurrent_backward, recurrent_input, transposed_recurrent, Grads, Problem, Rows, Saved};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm, gemm_into, MatRef};
use crate::cpu::uninit;

fn h_prev<'a>(p: &Problem<'a>, states: &'a [f32], b: usize, s: usize, zeros: &'a [f32]) -> &'a [f32] {
    let (u, t) = (p.units, p.steps);
    if s > 0 {
        &states[(b * t + s - 1) * u..(b * t + s) * u]
    } else {
        p.h0.map_or(zeros, |h| &h[b * u..(b + 1) * u])
    }
}

pub(super) fn forward(p: &Problem<'_>, act_fn: Activation, rec_fn: Activation, reset_after: bool) -> (Vec<f32>, Saved) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let gw = 3 * u;
    let mut pre = input_projection(p);
    let mut act = uninit(n * t * gw);
    let mut states = uninit(n * t * u);
    let mut extra = uninit(n * t * u);
    let mut scratch = vec![0.0f32; n * u];
    // reset_after: the recurrent projection of one step, (B, 3U), bias row 2 added.
    let mut rec = vec![0.0f32; n * gw];
    let zeros = vec![0.0f32; u];
    let rec_bias = p.bias.filter(|_| reset_after).map(|b| &b[gw..]);
    let rk = |col0: usize| MatRef { data: p.recurrent, offset: col0, row_stride: gw as isize, col_stride: 1 };
    for s in 0..t {
        let has_h = recurrent_input(p, &states, s, &mut scratch).map(|h| {
            if reset_after {
                gemm(n, gw, u, h, rk(0), &mut rec, false);
            } else {
                gemm_into(n, 2 * u, u, h, rk(0), &mut pre, s * gw, t * gw, true);
            }
        });
        if reset_after {
            if has_h.is_none() {
                rec.fill(0.0);
            }
            if let Some(rb) = rec_bias {
                rec.chunks_mut(gw).for_each(|r| r.iter_mut().zip(rb).for_each(|(v, b)| *v += b));
            }
        }
        // Phase 1: z and r; reset_after also finishes the candidate and the state.
        {
            let (pre_r, act_r, st_r, ex_r) = (Rows::of(&mut pre), Rows::of(&mut act), Rows::of(&mut states), Rows::of(&mut extra));
            let (rec, scratch) = (&rec, &scratch);
            for_samples(p, #[inline(always)] |b| {
                let row = b * t + s;
                // SAFETY: sample b's rows at step s; its step s-1 state is read only.
                let (pg, ag, ex) = unsafe { (pre_r.at(row * gw, gw), act_r.at(row * gw, gw), ex_r.at(row * u, u)) };
                if !active(p, b, s) {
                    // Read by the weight-gradient GEMM (times a zero gradient): must be finite.
                    ex.fill(0.0);
                    return;
                }
                if reset_after {
                    let rg = &rec[b * gw..(b + 1) * gw];
                    pg[..2 * u].iter_mut().zip(&rg[..2 * u]).for_each(|(v, r)| *v += r);
                    activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
                    ex.copy_from_slice(&rg[2 * u..]);
                    let r = &ag[u..2 * u];
                    pg[2 * u..].iter_mut().zip(r.iter().zip(ex.iter())).for_each(|(v, (r, rh))| *v += r * rh);
                    activate(act_fn, &pg[2 * u..], &mut ag[2 * u..]);
                    let hp = unsafe { if s > 0 { &*st_r.at((row - 1) * u, u) } else { p.h0.map_or(&zeros[..], |h| &h[b * u..(b + 1) * u]) } };
                    let h = unsafe { st_r.at(row * u, u) };
                    let (z, hh) = (&ag[..u], &ag[2 * u..]);
                    for j in 0..u {
                        h[j] = z[j] * hp[j] + (1.0 - z[j]) * hh[j];
                    }
                } else {
                    activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
                    // r * h_prev as the recurrent kernel reads h_prev (after recurrent dropout).
                    let r = &ag[u..2 * u];
                    if has_h.is_some() {
                        let hu: &[f32] = if s > 0 && p.recurrent_dropout.is_none() { unsafe { st_r.at((row - 1) * u, u) } } else { &scratch[b * u..(b + 1) * u] };
                        ex.iter_mut().zip(r.iter().zip(hu)).for_each(|(e, (r, h))| *e = r * h);
                    } else {
                        ex.fill(0.0);
                    }
                }
            });
        }
        if !reset_after {
            // Phase 2: the candidate's recurrent term from r * h_prev, then the state.
            if has_h.is_some() {
                let rhp = MatRef { data: &extra, offset: s * u, row_stride: (t * u) as isize, col_stride: 1 };
                gemm_into(n, u, u, rhp, rk(2 * u), &mut pre, s * gw + 2 * u, t * gw, true);
            }
            let (pre_r, act_r, st_r) = (Rows::of(&mut pre), Rows::of(&mut act), Rows::of(&mut states));
            for_samples(p, #[inline(always)] |b| {
                let row = b * t + s;
                if !active(p, b, s) {
                    return;
                }
                // SAFETY: sample b's rows.
                let (pg, ag) = unsafe { (pre_r.at(row * gw, gw), act_r.at(row * gw, gw)) };
                activate(act_fn, &pg[2 * u..], &mut ag[2 * u..]);
                let hp = unsafe { if s > 0 { &*st_r.at((row - 1) * u, u) } else { p.h0.map_or(&zeros[..], |h| &h[b * u..(b + 1) * u]) } };
                let h = unsafe { st_r.at(row * u, u) };
                let (z, hh) = (&ag[..u], &ag[2 * u..]);
                for j in 0..u {
                    h[j] = z[j] * hp[j] + (1.0 - z[j]) * hh[j];
                }
            });
        }
        // Masked samples carry their state.
        if p.mask.is_some() {
            for b in (0..n).filter(|&b| !active(p, b, s)) {
                let row = b * t + s;
                let prev: Vec<f32> = h_prev(p, &states, b, s, &zeros).to_vec();
                states[row * u..(row + 1) * u].copy_from_slice(&prev);
            }
        }
    }
    (states, Saved { pre, act, extra })
}

pub(super) fn backward(p: &Problem<'_>, saved: &Saved, states: &[f32], dstates: &[f32], act_fn: Activation, rec_fn: Activation, reset_after: bool) -> (Vec<f32>, Option<Vec<f32>>, Grads) {
    let (n, t, u, f) = (p.batch, p.steps, p.units, p.features);
    let gw = 3 * u;
    let mut dpre = uninit(n * t * gw);
    // reset_after: the recurrent side's gate gradients [dz, dr, d(h_prev U_h + b_rh)].
    let mut drec = if reset_after { uninit(n * t * gw) } else { Vec::new() };
    let mut dh_next = vec![0.0f32; n * u];
    let rt = transposed_recurrent(p);
    let mut scratch = vec![0.0f32; n * u];
    let mut drhp = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in (0..t).rev() {
        {
            let (dp_r, dr_r, dh_r) = (Rows::of(&mut dpre), Rows::of(&mut drec), Rows::of(&mut dh_next));
            let zeros = &zeros;
            for_samples(p, #[inline(always)] |b| {
                let row = b * t + s;
                // SAFETY: sample b's rows only.
                let (dg, dh) = unsafe { (dp_r.at(row * gw, gw), dh_r.at(b * u, u)) };
                dh.iter_mut().zip(&dstates[row * u..(row + 1) * u]).for_each(|(d, g)| *d += g);
                if !active(p, b, s) {
                    dg.fill(0.0);
                    if reset_after {
                        unsafe { dr_r.at(row * gw, gw) }.fill(0.0);
                    }
                    return;
                }
                let (pg, ag) = (&saved.pre[row * gw..(row + 1) * gw], &saved.act[row * gw..(row + 1) * gw]);
                let hp = h_prev(p, states, b, s, zeros);
                let (z, r, hh) = (&ag[..u], &ag[u..2 * u], &ag[2 * u..]);
                let (dz, rest) = dg.split_at_mut(u);
                let (dr, dph) = rest.split_at_mut(u);
                for j in 0..u {
                    dz[j] = dh[j] * (hp[j] - hh[j]);
                    dph[j] = dh[j] * (1.0 - z[j]);
                    dh[j] *= z[j];
                }
                backprop(act_fn, &pg[2 * u..], hh, dph);
                if reset_after {
                    let rh = &saved.extra[row * u..(row + 1) * u];
                    let drg = unsafe { dr_r.at(row * gw, gw) };
                    for j in 0..u {
                        dr[j] = dph[j] * rh[j];
                        drg[2 * u + j] = dph[j] * r[j];
                    }
                    backprop(rec_fn, &pg[..2 * u], &ag[..2 * u], &mut dg[..2 * u]);
                    drg[..2 * u].copy_from_slice(&dg[..2 * u]);
                } else {
                    backprop(rec_fn, &pg[..u], z, &mut dg[..u]);
                }
            });
        }
        if reset_after {
            recurrent_backward(p, &rt, &drec, gw, 0, gw, s, &mut dh_next, &mut scratch);
            continue;
        }
        // Reset before: the candidate's GEMM ran on r * h_prev; its gradient feeds r and h_prev.
        let a = MatRef { data: &dpre, offset: s * gw + 2 * u, row_stride: (t * gw) as isize, col_stride: 1 };
        let r_h = MatRef { data: &rt, offset: 2 * u * u, row_stride: u as isize, col_stride: 1 };
        gemm(n, u, u, a, r_h, &mut drhp, false);
        {
            let (dp_r, dh_r) = (Rows::of(&mut dpre), Rows::of(&mut dh_next));
            let (drhp, zeros) = (&drhp, &zeros);
            for_samples(p, #[inline(always)] |b| {
                let row = b * t + s;
                if !active(p, b, s) {
                    return;
                }
                // SAFETY: sample b's rows only.
                let (dg, dh) = unsafe { (dp_r.at(row * gw, gw), dh_r.at(b * u, u)) };
                let ag = &saved.act[row * gw..(row + 1) * gw];
                let hp = h_prev(p, states, b, s, zeros);
                let rd = p.recurrent_dropout.map(|m| &m[b * u..(b + 1) * u]);
                let (r, d) = (&ag[u..2 * u], &drhp[b * u..(b + 1) * u]);
                for j in 0..u {
                    let m = rd.map_or(1.0, |m| m[j]);
                    dg[u + j] = d[j] * hp[j] * m;
                    dh[j] += d[j] * r[j] * m;
                }
                backprop(rec_fn, &saved.pre[row * gw + u..row * gw + 2 * u], r, &mut dg[u..2 * u]);
            });
        }
        recurrent_backward(p, &rt, &dpre, gw, 0, 2 * u, s, &mut dh_next, &mut scratch);
    }
    let mut drecurrent = vec![0.0f32; u * gw];
    let hp = previous_h(p, states);
    if reset_after {
        gemm(u, gw, n * t, MatRef::row_major(&hp, u).t(), MatRef::row_major(&drec, gw), &mut drecurrent, false);
    } else {
        let dzr = MatRef { data: &dpre, offset: 0, row_stride: gw as isize, col_stride: 1 };
        gemm_into(u, 2 * u, n * t, MatRef::row_major(&hp, u).t(), dzr, &mut drecurrent, 0, gw, false);
        let dh = MatRef { data: &dpre, offset: 2 * u, row_stride: gw as isize, col_stride: 1 };
        gemm_into(u, u, n * t, MatRef::row_major(&saved.extra, u).t(), dh, &mut drecurrent, 2 * u, gw, false);
    }
    let grads = Grads { dx: None, dkernel: vec![0.0f32; f * gw], drecurrent, dbias: None, dh0: dh_next, dc0: None };
    (dpre, reset_after.then_some(drec), grads)
}

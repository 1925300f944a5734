//! LSTM (Keras gate order i, f, c, o):
//! `c = f * c_prev + i * act(g)`, `h = o * act(c)`, gates `rec_act(x W + h_prev U + b)`.

use super::{active, activate, backprop, for_samples, input_projection, previous_h, recurrent_backward, recurrent_input, transposed_recurrent, Grads, Problem, Rows, Saved};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm, gemm_into, MatRef};
use crate::cpu::uninit;

pub(super) fn forward(p: &Problem<'_>, act_fn: Activation, rec_fn: Activation) -> (Vec<f32>, Saved) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let (gw, sw) = (4 * u, 2 * u);
    let mut pre = input_projection(p);
    let mut act = uninit(n * t * gw);
    let mut states = uninit(n * t * sw);
    let mut extra = uninit(n * t * u);
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in 0..t {
        if let Some(h) = recurrent_input(p, &states, s, &mut scratch) {
            gemm_into(n, gw, u, h, MatRef::row_major(p.recurrent, gw), &mut pre, s * gw, t * gw, true);
        }
        let (pre_r, act_r, st_r, ex_r) = (Rows::of(&mut pre), Rows::of(&mut act), Rows::of(&mut states), Rows::of(&mut extra));
        for_samples(p, #[inline(always)] |b| {
            let row = b * t + s;
            // SAFETY: sample b's rows at step s (and its step s-1 state, read only), disjoint
            // from every other sample's.
            let (pg, ag, st, tc) = unsafe { (pre_r.at(row * gw, gw), act_r.at(row * gw, gw), st_r.at(row * sw, sw), ex_r.at(row * u, u)) };
            let (h_prev, c_prev): (&[f32], &[f32]) = if s > 0 {
                let prev = unsafe { st_r.at((row - 1) * sw, sw) };
                let (h, c) = prev.split_at(u);
                (h, c)
            } else {
                (p.h0.map_or(&zeros[..], |h| &h[b * u..(b + 1) * u]), p.c0.map_or(&zeros[..], |c| &c[b * u..(b + 1) * u]))
            };
            if !active(p, b, s) {
                st[..u].copy_from_slice(h_prev);
                st[u..].copy_from_slice(c_prev);
                return;
            }
            activate(rec_fn, &pg[..2 * u], &mut ag[..2 * u]);
            activate(act_fn, &pg[2 * u..3 * u], &mut ag[2 * u..3 * u]);
            activate(rec_fn, &pg[3 * u..], &mut ag[3 * u..]);
            let (i, rest) = ag.split_at(u);
            let (f, rest) = rest.split_at(u);
            let (g, o) = rest.split_at(u);
            let (h, c) = st.split_at_mut(u);
            for j in 0..u {
                c[j] = f[j] * c_prev[j] + i[j] * g[j];
            }
            activate(act_fn, c, tc);
            for j in 0..u {
                h[j] = o[j] * tc[j];
            }
        });
    }
    (states, Saved { pre, act, extra })
}

pub(super) fn backward(p: &Problem<'_>, saved: &Saved, states: &[f32], dstates: &[f32], act_fn: Activation, rec_fn: Activation) -> (Vec<f32>, Option<Vec<f32>>, Grads) {
    let (n, t, u, f) = (p.batch, p.steps, p.units, p.features);
    let (gw, sw) = (4 * u, 2 * u);
    let mut dpre = uninit(n * t * gw);
    let mut dh_next = vec![0.0f32; n * u];
    let mut dc_next = vec![0.0f32; n * u];
    let rt = transposed_recurrent(p);
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in (0..t).rev() {
        let (dp_r, dh_r, dc_r) = (Rows::of(&mut dpre), Rows::of(&mut dh_next), Rows::of(&mut dc_next));
        for_samples(p, #[inline(always)] |b| {
            let row = b * t + s;
            // SAFETY: sample b's rows only.
            let (dg, dh, dc) = unsafe { (dp_r.at(row * gw, gw), dh_r.at(b * u, u), dc_r.at(b * u, u)) };
            let ds = &dstates[row * sw..(row + 1) * sw];
            dh.iter_mut().zip(&ds[..u]).for_each(|(d, g)| *d += g);
            dc.iter_mut().zip(&ds[u..]).for_each(|(d, g)| *d += g);
            if !active(p, b, s) {
                // The state passed through: its gradient goes on to the previous step.
                dg.fill(0.0);
                return;
            }
            let (pg, ag) = (&saved.pre[row * gw..(row + 1) * gw], &saved.act[row * gw..(row + 1) * gw]);
            let tc = &saved.extra[row * u..(row + 1) * u];
            let c = &states[row * sw + u..(row + 1) * sw];
            let c_prev = if s > 0 { &states[(row - 1) * sw + u..row * sw] } else { p.c0.map_or(&zeros[..], |c| &c[b * u..(b + 1) * u]) };
            let (i, rest) = ag.split_at(u);
            let (fg, rest) = rest.split_at(u);
            let (g, o) = rest.split_at(u);
            let (di, rest) = dg.split_at_mut(u);
            let (df, rest) = rest.split_at_mut(u);
            let (dgg, d_o) = rest.split_at_mut(u);
            // d_o = dh * act(c); the gradient reaching c through h, into dgg as scratch.
            for j in 0..u {
                d_o[j] = dh[j] * tc[j];
                dgg[j] = dh[j] * o[j];
            }
            backprop(act_fn, c, tc, dgg);
            for j in 0..u {
                let dcn = dc[j] + dgg[j];
                di[j] = dcn * g[j];
                dgg[j] = dcn * i[j];
                df[j] = dcn * c_prev[j];
                dc[j] = dcn * fg[j];
            }
            backprop(rec_fn, &pg[..2 * u], &ag[..2 * u], &mut dg[..2 * u]);
            backprop(act_fn, &pg[2 * u..3 * u], &ag[2 * u..3 * u], &mut dg[2 * u..3 * u]);
            backprop(rec_fn, &pg[3 * u..], &ag[3 * u..], &mut dg[3 * u..]);
            // Filled by the recurrent GEMM below.
            dh.fill(0.0);
        });
        recurrent_backward(p, &rt, &dpre, gw, 0, gw, s, &mut dh_next, &mut scratch);
    }
    let hp = previous_h(p, states);
    let mut drecurrent = vec![0.0f32; u * gw];
    gemm(u, gw, n * t, MatRef::row_major(&hp, u).t(), MatRef::row_major(&dpre, gw), &mut drecurrent, false);
    let grads = Grads { dx: None, dkernel: vec![0.0f32; f * gw], drecurrent, dbias: None, dh0: dh_next, dc0: Some(dc_next) };
    (dpre, None, grads)
}

//! SimpleRNN: `h = act(x W + h_prev U + b)`.

use super::{active, activate, backprop, for_samples, input_projection, previous_h, recurrent_backward, recurrent_input, transposed_recurrent, Grads, Problem, Rows, Saved};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm, gemm_into, MatRef};
use crate::cpu::uninit;

pub(super) fn forward(p: &Problem<'_>, act_fn: Activation) -> (Vec<f32>, Saved) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let mut pre = input_projection(p);
    let mut states = uninit(n * t * u);
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in 0..t {
        if let Some(h) = recurrent_input(p, &states, s, &mut scratch) {
            gemm_into(n, u, u, h, MatRef::row_major(p.recurrent, u), &mut pre, s * u, t * u, true);
        }
        let st_r = Rows::of(&mut states);
        let pre = &pre;
        for_samples(p, #[inline(always)] |b| {
            let row = b * t + s;
            // SAFETY: sample b's state at step s (written) and s-1 (read).
            let h = unsafe { st_r.at(row * u, u) };
            if active(p, b, s) {
                activate(act_fn, &pre[row * u..(row + 1) * u], h);
            } else {
                let prev: &[f32] = if s > 0 { unsafe { st_r.at((row - 1) * u, u) } } else { p.h0.map_or(&zeros[..], |h0| &h0[b * u..(b + 1) * u]) };
                h.copy_from_slice(prev);
            }
        });
    }
    (states, Saved { pre, act: Vec::new(), extra: Vec::new() })
}

pub(super) fn backward(p: &Problem<'_>, saved: &Saved, states: &[f32], dstates: &[f32], act_fn: Activation) -> (Vec<f32>, Option<Vec<f32>>, Grads) {
    let (n, t, u, f) = (p.batch, p.steps, p.units, p.features);
    let mut dpre = uninit(n * t * u);
    let mut dh_next = vec![0.0f32; n * u];
    let rt = transposed_recurrent(p);
    let mut scratch = vec![0.0f32; n * u];
    for s in (0..t).rev() {
        let (dp_r, dh_r) = (Rows::of(&mut dpre), Rows::of(&mut dh_next));
        for_samples(p, #[inline(always)] |b| {
            let row = b * t + s;
            // SAFETY: sample b's rows only.
            let (dg, dh) = unsafe { (dp_r.at(row * u, u), dh_r.at(b * u, u)) };
            dh.iter_mut().zip(&dstates[row * u..(row + 1) * u]).for_each(|(d, g)| *d += g);
            if !active(p, b, s) {
                dg.fill(0.0);
                return;
            }
            dg.copy_from_slice(dh);
            backprop(act_fn, &saved.pre[row * u..(row + 1) * u], &states[row * u..(row + 1) * u], dg);
            dh.fill(0.0);
        });
        recurrent_backward(p, &rt, &dpre, u, 0, u, s, &mut dh_next, &mut scratch);
    }
    let hp = previous_h(p, states);
    let mut drecurrent = vec![0.0f32; u * u];
    gemm(u, u, n * t, MatRef::row_major(&hp, u).t(), MatRef::row_major(&dpre, u), &mut drecurrent, false);
    let grads = Grads { dx: None, dkernel: vec![0.0f32; f * u], drecurrent, dbias: None, dh0: dh_next, dc0: None };
    (dpre, None, grads)
}

//! SimpleRNN: `h = act(x W + h_prev U + b)`. One batch slice, on the calling thread.

use super::{active, activate, add_to_bias, backprop, input_projection, recurrent_backward, recurrent_input, Buffers, GradBuffers, Problem, SavedPart, StateGrad};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm_into_serial, MatRef};

// Inlined into the AVX2-compiled slice loop (`for_batch_parts`), so the gate math vectorises.
#[inline(always)]
pub(super) fn forward(p: &Problem<'_>, act_fn: Activation, out: Buffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let Buffers { pre, states, .. } = out;
    input_projection(p, pre);
    let mut scratch = vec![0.0f32; n * u];
    let zeros = vec![0.0f32; u];
    for s in 0..t {
        if let Some(h) = recurrent_input(p, states, s, &mut scratch) {
            gemm_into_serial(n, u, u, h, MatRef::row_major(p.recurrent, u), pre, s * u, t * u, true);
        }
        for b in 0..n {
            let row = b * t + s;
            let (before, rest) = states.split_at_mut(row * u);
            let h = &mut rest[..u];
            if active(p, b, s) {
                activate(act_fn, &pre[row * u..(row + 1) * u], h);
            } else {
                let prev: &[f32] = if s > 0 { &before[(row - 1) * u..] } else { p.h0.map_or(&zeros[..], |h0| &h0[b * u..(b + 1) * u]) };
                h.copy_from_slice(&prev[..u]);
            }
        }
    }
}

#[inline(always)]
pub(super) fn backward(p: &Problem<'_>, saved: &SavedPart<'_>, states: &[f32], dstates: StateGrad<'_>, rt: &[f32], act_fn: Activation, g: GradBuffers<'_>) {
    let (n, t, u) = (p.batch, p.steps, p.units);
    let GradBuffers { dpre, dh: dh_next, db, .. } = g;
    let mut scratch = vec![0.0f32; n * u];
    for s in (0..t).rev() {
        for b in 0..n {
            let row = b * t + s;
            let dg = &mut dpre[row * u..(row + 1) * u];
            let dh = &mut dh_next[b * u..(b + 1) * u];
            if let Some(ds) = dstates.at(t, u, b, s) {
                dh.iter_mut().zip(ds).for_each(|(d, g)| *d += g);
            }
            if !active(p, b, s) {
                dg.fill(0.0);
                continue;
            }
            dg.copy_from_slice(dh);
            backprop(act_fn, &saved.pre[row * u..(row + 1) * u], &states[row * u..(row + 1) * u], dg);
            if !db.is_empty() {
                add_to_bias(&mut db[b * u..(b + 1) * u], dg);
            }
            dh.fill(0.0);
        }
        recurrent_backward(p, rt, dpre, u, 0, u, s, dh_next, &mut scratch);
    }
}

//! Softmax and log-softmax along the middle axis of `[outer, len, inner]` data (inner = 1 is the
//! usual last-axis case), with their backward passes.

/// Visit each softmax line: `f(start, stride)` where elements are `start + j*stride`, j < len.
fn for_each_line(outer: usize, len: usize, inner: usize, mut f: impl FnMut(usize, usize)) {
    for o in 0..outer {
        for i in 0..inner {
            f(o * len * inner + i, inner);
        }
    }
}

/// Softmax along the axis, max-subtracted for stability.
pub fn softmax(x: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    for_each_line(outer, len, inner, |s, st| {
        let max = (0..len).map(|j| x[s + j * st]).fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0f32;
        for j in 0..len {
            let e = (x[s + j * st] - max).exp();
            out[s + j * st] = e;
            total += e;
        }
        let inv = 1.0 / total;
        for j in 0..len {
            out[s + j * st] *= inv;
        }
    });
    out
}

/// Log-softmax along the axis: `x - max - log(sum(exp(x - max)))`.
pub fn log_softmax(x: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    for_each_line(outer, len, inner, |s, st| {
        let max = (0..len).map(|j| x[s + j * st]).fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = (0..len).map(|j| (x[s + j * st] - max).exp()).sum();
        let shift = max + total.ln();
        for j in 0..len {
            out[s + j * st] = x[s + j * st] - shift;
        }
    });
    out
}

/// Softmax backward from its output `y`: `dx = y * (g - sum(g * y))`.
pub fn softmax_backward(y: &[f32], g: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; y.len()];
    for_each_line(outer, len, inner, |s, st| {
        let dot: f32 = (0..len).map(|j| g[s + j * st] * y[s + j * st]).sum();
        for j in 0..len {
            let k = s + j * st;
            out[k] = y[k] * (g[k] - dot);
        }
    });
    out
}

/// Log-softmax backward from its output `y`: `dx = g - exp(y) * sum(g)`.
pub fn log_softmax_backward(y: &[f32], g: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; y.len()];
    for_each_line(outer, len, inner, |s, st| {
        let total: f32 = (0..len).map(|j| g[s + j * st]).sum();
        for j in 0..len {
            let k = s + j * st;
            out[k] = g[k] - y[k].exp() * total;
        }
    });
    out
}

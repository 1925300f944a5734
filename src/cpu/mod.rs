//! CPU kernels on plain slices: no autograd, no tensors. SIMD comes from the `gemm` crate's
//! runtime-dispatched microkernels and from loops written so LLVM vectorises them; `workers` splits
//! work across threads only above a size threshold, because a fork-join costs microseconds.

pub mod activation;
pub mod binary;
pub mod conv;
pub mod conv_pool;
pub mod conv_pool_training;
pub mod fastmath;
pub mod gemm;
pub mod parallel;
pub mod pool;
pub mod recurrent;
pub mod workers;
pub mod reduce;
pub mod softmax;

use parallel::for_each_chunk_mut;

/// Below this many elements an elementwise kernel stays on the calling thread.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;
/// Elements per parallel chunk: fixed, so results never depend on the thread count.
pub const CHUNK: usize = 1 << 13;

/// A buffer of `n` floats for a kernel that overwrites every element (a GEMM without
/// accumulation, a convolution forward): skips zeroing megabytes that are written next.
pub fn uninit(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: f32 has no invalid bit patterns, and callers overwrite every element before any
    // read (documented contract of this function).
    unsafe { v.set_len(n) };
    v
}

/// `out[i] = f(x[i])`.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = uninit(x.len()); // every element is written below
    for_each_chunk_mut(&mut out, CHUNK, x.len() >= PARALLEL_MIN_ELEMENTS, |c, o| {
        let x = &x[c * CHUNK..c * CHUNK + o.len()];
        o.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    });
    out
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = uninit(a.len()); // every element is written below
    for_each_chunk_mut(&mut out, CHUNK, a.len() >= PARALLEL_MIN_ELEMENTS, |c, o| {
        let (a, b) = (&a[c * CHUNK..c * CHUNK + o.len()], &b[c * CHUNK..c * CHUNK + o.len()]);
        for i in 0..o.len() {
            o[i] = f(a[i], b[i]);
        }
    });
    out
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices.
pub fn zip3_map(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = uninit(a.len()); // every element is written below
    for_each_chunk_mut(&mut out, CHUNK, a.len() >= PARALLEL_MIN_ELEMENTS, |k, o| {
        let r = k * CHUNK..k * CHUNK + o.len();
        let (a, b, c) = (&a[r.clone()], &b[r.clone()], &c[r]);
        for i in 0..o.len() {
            o[i] = f(a[i], b[i], c[i]);
        }
    });
    out
}

/// Apply `f(row_index, row)` to each row of `rows x width` data, in parallel when large.
pub fn for_each_row(data: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if width == 0 {
        return;
    }
    let rows_per_chunk = (CHUNK / width).max(1);
    let parallel = data.len() >= PARALLEL_MIN_ELEMENTS;
    for_each_chunk_mut(data, rows_per_chunk * width, parallel, |c, block| {
        for (r, row) in block.chunks_mut(width).enumerate() {
            f(c * rows_per_chunk + r, row);
        }
    });
}

//! CPU kernels on plain slices: no autograd, no tensors. SIMD comes from the `gemm` crate's
//! runtime-dispatched microkernels and from loops written so LLVM vectorises them; rayon splits
//! work only above a size threshold, because a fork-join costs microseconds.

pub mod activation;
pub mod binary;
pub mod gemm;
pub mod reduce;
pub mod softmax;

use rayon::prelude::*;

/// Below this many elements an elementwise kernel stays on the calling thread.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;
/// Elements per parallel chunk: fixed, so results never depend on the thread count.
pub const CHUNK: usize = 1 << 13;

/// `out[i] = f(x[i])`.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    if x.len() >= PARALLEL_MIN_ELEMENTS {
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(o, i)| {
            o.iter_mut().zip(i).for_each(|(o, &v)| *o = f(v));
        });
    } else {
        out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    }
    out
}

/// `out[i] = f(a[i], b[i])` for equal-length slices.
pub fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = vec![0.0f32; a.len()];
    if a.len() >= PARALLEL_MIN_ELEMENTS {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(o, (a, b))| {
                for i in 0..o.len() {
                    o[i] = f(a[i], b[i]);
                }
            });
    } else {
        for i in 0..out.len() {
            out[i] = f(a[i], b[i]);
        }
    }
    out
}

/// `out[i] = f(a[i], b[i], c[i])` for equal-length slices.
pub fn zip3_map(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; a.len()];
    if a.len() >= PARALLEL_MIN_ELEMENTS {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK))))
            .for_each(|(o, (a, (b, c)))| {
                for i in 0..o.len() {
                    o[i] = f(a[i], b[i], c[i]);
                }
            });
    } else {
        for i in 0..out.len() {
            out[i] = f(a[i], b[i], c[i]);
        }
    }
    out
}

/// Apply `f` to each row of `rows x width` data, in parallel when the data is large.
pub fn for_each_row(data: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if width == 0 {
        return;
    }
    if data.len() >= PARALLEL_MIN_ELEMENTS {
        data.par_chunks_mut(width).enumerate().for_each(|(r, row)| f(r, row));
    } else {
        data.chunks_mut(width).enumerate().for_each(|(r, row)| f(r, row));
    }
}

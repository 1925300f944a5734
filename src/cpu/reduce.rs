//! Reductions over one axis of a row-major array viewed as `[outer, len, inner]`. Each output is
//! accumulated in a fixed order, and parallel sums combine fixed-size chunks in index order, so
//! results are bit-identical whatever the thread count.

use super::{CHUNK, PARALLEL_MIN_ELEMENTS};
use super::parallel::{for_each_chunk_mut, map_indices};

/// Sum of all values, deterministic.
pub fn sum_all(x: &[f32]) -> f32 {
    if x.len() >= PARALLEL_MIN_ELEMENTS {
        let partials = map_indices(x.len().div_ceil(CHUNK), true, |i| sum_serial(&x[i * CHUNK..((i + 1) * CHUNK).min(x.len())]));
        sum_serial(&partials)
    } else {
        sum_serial(x)
    }
}

/// Pairwise-ish serial sum: 8 independent accumulators (vectorises, and is more accurate than
/// one running sum).
fn sum_serial(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        total += v;
    }
    total
}

/// Sum over the middle axis of `[outer, len, inner]` data -> `[outer, inner]`.
pub fn sum_axis(x: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    // Empty input or output: `chunks(0)` would panic below.
    if outer * inner == 0 || len == 0 {
        return vec![0.0f32; outer * inner];
    }
    if inner == 1 {
        let rows = (CHUNK / len).max(1);
        let mut out = vec![0.0f32; outer];
        for_each_chunk_mut(&mut out, rows, x.len() >= PARALLEL_MIN_ELEMENTS, |c, o| {
            for (r, v) in o.iter_mut().enumerate() {
                let row = c * rows + r;
                *v = sum_serial(&x[row * len..(row + 1) * len]);
            }
        });
        return out;
    }
    let mut out = vec![0.0f32; outer * inner];
    let block = |(o, src): (&mut [f32], &[f32])| {
        for j in 0..len {
            let row = &src[j * inner..(j + 1) * inner];
            for i in 0..inner {
                o[i] += row[i];
            }
        }
    };
    if x.len() >= PARALLEL_MIN_ELEMENTS && outer > 1 {
        for_each_chunk_mut(&mut out, inner, true, |o_index, o| block((o, &x[o_index * len * inner..(o_index + 1) * len * inner])));
    } else if x.len() >= PARALLEL_MIN_ELEMENTS && inner <= CHUNK / 16 {
        // One outer block of narrow rows (a bias gradient): fixed blocks of rows summed in
        // parallel, then the blocks' sums added in order (the same result for any thread count).
        let rows = CHUNK / inner;
        let mut partials = vec![0.0f32; len.div_ceil(rows) * inner];
        for_each_chunk_mut(&mut partials, inner, true, |b, o| {
            for row in x[b * rows * inner..((b + 1) * rows).min(len) * inner].chunks_exact(inner) {
                o.iter_mut().zip(row).for_each(|(o, v)| *o += v);
            }
        });
        for partial in partials.chunks_exact(inner) {
            out.iter_mut().zip(partial).for_each(|(o, v)| *o += v);
        }
    } else if x.len() >= PARALLEL_MIN_ELEMENTS {
        // One outer block of wide rows: split the columns instead.
        let cols = (CHUNK / len.max(1)).max(64);
        for_each_chunk_mut(&mut out, cols, true, |c, o| {
            let start = c * cols;
            for j in 0..len {
                let row = &x[j * inner + start..j * inner + start + o.len()];
                for i in 0..o.len() {
                    o[i] += row[i];
                }
            }
        });
    } else {
        out.chunks_mut(inner).zip(x.chunks(len * inner)).for_each(block);
    }
    out
}

/// Max and first argmax over the middle axis of `[outer, len, inner]` (len > 0). NaN wins, as in
/// NumPy.
pub fn max_axis(x: &[f32], outer: usize, len: usize, inner: usize) -> (Vec<f32>, Vec<usize>) {
    let mut values = vec![f32::NEG_INFINITY; outer * inner];
    let mut index = vec![0usize; outer * inner];
    for o in 0..outer {
        for j in 0..len {
            let row = &x[(o * len + j) * inner..(o * len + j + 1) * inner];
            for i in 0..inner {
                let v = row[i];
                let slot = o * inner + i;
                let best = values[slot];
                if j == 0 || v > best || (v.is_nan() && !best.is_nan()) {
                    values[slot] = v;
                    index[slot] = j;
                }
            }
        }
    }
    (values, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_each_axis() {
        let x: Vec<f32> = (0..6).map(|v| v as f32).collect(); // [[0,1,2],[3,4,5]]
        assert_eq!(sum_axis(&x, 1, 2, 3), vec![3.0, 5.0, 7.0]);
        assert_eq!(sum_axis(&x, 2, 3, 1), vec![3.0, 12.0]);
        assert_eq!(sum_axis(&[], 1, 0, 3), vec![0.0; 3]);
        assert_eq!(sum_axis(&[], 2, 3, 0), Vec::<f32>::new());
    }

    #[test]
    fn max_keeps_first_argmax() {
        let x = [1.0, 3.0, 3.0, 0.0];
        assert_eq!(max_axis(&x, 1, 4, 1), (vec![3.0], vec![1]));
    }

    #[test]
    fn large_sums_do_not_depend_on_threads() {
        let x: Vec<f32> = (0..200_000).map(|v| ((v * 7919) % 1000) as f32 * 1e-3).collect();
        // The parallel sum combines fixed chunks in index order: the same as this serial version.
        let partials: Vec<f32> = x.chunks(CHUNK).map(sum_serial).collect();
        assert_eq!(sum_all(&x).to_bits(), sum_serial(&partials).to_bits());
    }

    #[test]
    fn bias_gradient_sums_match_float64() {
        // One outer block of narrow rows (a convolution's bias gradient: many rows of 32 or 64
        // channels, blocks of rows summed apart) and of wide rows (columns split).
        for (len, inner) in [(70_001, 32), (5_003, 64), (20, 3_000)] {
            let x: Vec<f32> = (0..len * inner).map(|v| ((v * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
            let got = sum_axis(&x, 1, len, inner);
            for (i, g) in got.iter().enumerate() {
                let want: f64 = (0..len).map(|j| x[j * inner + i] as f64).sum();
                assert!((*g as f64 - want).abs() <= 1e-4 * (len as f64).sqrt(), "{len} x {inner}, column {i}: {g} vs {want}");
            }
        }
    }
}

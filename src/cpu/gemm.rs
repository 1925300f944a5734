//! f32 GEMM on strided operands through the `gemm` crate: BLIS-style packing and cache blocking
//! with runtime-selected AVX2 / AVX-512 / NEON microkernels and a portable fallback. Chosen by
//! measurement (BENCHMARKS.md, W1): it matches or beats NumPy's OpenBLAS at every size we time,
//! one and two threads, where `matrixmultiply` reaches about half on two threads.
//! Transposed operands are passed as strides, never copied.

/// A strided read-only matrix: element (i, j) lives at `data[offset + i*row_stride + j*col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], cols: usize) -> Self {
        MatRef { data, offset: 0, row_stride: cols as isize, col_stride: 1 }
    }

    /// The same matrix read transposed (a view: strides swap).
    pub fn t(self) -> Self {
        MatRef { row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    fn in_bounds(&self, rows: usize, cols: usize) -> bool {
        if rows == 0 || cols == 0 {
            return true;
        }
        let mut lo = self.offset as isize;
        let mut hi = self.offset as isize;
        for (extent, stride) in [(rows, self.row_stride), (cols, self.col_stride)] {
            let span = (extent as isize - 1) * stride;
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        lo >= 0 && (hi as usize) < self.data.len()
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread: handing parts to the pool costs a
/// few microseconds, more than the work.
pub const PARALLEL_MIN_FMAS: usize = 96 * 96 * 96;

/// `c = a @ b` (or `c += a @ b` when `accumulate`), `a` is m x k, `b` is k x n, `c` row-major m x n.
pub fn gemm(m: usize, n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], accumulate: bool) {
    gemm_into(m, n, k, a, b, c, 0, n, accumulate)
}

/// Like `gemm`, writing the m x n result at `c[offset..]` with row stride `row_stride` (a block
/// of a wider matrix, e.g. one group's output channels).
///
/// Large products are split across `cpu::workers` by output rows or columns (whichever is
/// longer), each part a single-threaded `gemm` call: the crate's own threading leaves the
/// skinny shapes of training (m = 128 rows, n = 256..512) on one core.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(m: usize, n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], offset: usize, row_stride: usize, accumulate: bool) {
    if trivial(m, n, k, a, b, c, offset, row_stride, accumulate) {
        return;
    }
    if m == 1 && b.col_stride == 1 && m * n * k < PARALLEL_MIN_FMAS {
        // A row vector times a matrix (one sample through a dense layer): the crate would pack
        // the whole matrix for a single row; a row-by-row axpy over contiguous rows of `b` is
        // several times faster.
        #[cfg(target_arch = "x86_64")]
        if super::fastmath::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time).
            unsafe { row_times_matrix_avx2(n, k, a, b, &mut c[offset..offset + n], accumulate) };
            return;
        }
        row_times_matrix(n, k, a, b, &mut c[offset..offset + n], accumulate);
        return;
    }
    let threads = super::parallel::threads();
    // SAFETY (all calls below): the block [offset, offset + (m-1)*row_stride + n) is inside `c`
    // (checked above) and `c` is exclusively borrowed; parts write disjoint rows or columns.
    let base = unsafe { c.as_mut_ptr().add(offset) };
    if m * n * k < PARALLEL_MIN_FMAS || threads < 2 {
        unsafe { gemm_serial(m, n, k, a, b, base, row_stride, accumulate) };
        return;
    }
    let shared = SharedOut(base);
    let out = &shared;
    if n >= m {
        let parts = split(n, threads, 16);
        super::workers::run_parts(parts.len(), &|i| {
            let (start, len) = parts[i];
            let bp = MatRef { offset: offset_by(b.offset, start, b.col_stride), ..b };
            unsafe { gemm_serial(m, len, k, a, bp, out.0.add(start), row_stride, accumulate) }
        });
    } else {
        let parts = split(m, threads, 8);
        super::workers::run_parts(parts.len(), &|i| {
            let (start, len) = parts[i];
            let ap = MatRef { offset: offset_by(a.offset, start, a.row_stride), ..a };
            unsafe { gemm_serial(len, n, k, ap, b, out.0.add(start * row_stride), row_stride, accumulate) }
        });
    }
}

/// `row (+)= a @ b` for a row vector `a` (1 x k) and `b` with contiguous rows (k x n): an axpy per
/// row of `b`, four rows per pass over `row` (a quarter of the loads and stores of `row`, which
/// dominate when the output is narrow: a 10-class head).
fn row_times_matrix(n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, row: &mut [f32], accumulate: bool) {
    let row = &mut row[..n];
    if !accumulate {
        row.fill(0.0);
    }
    let av = |p: usize| a.data[(a.offset as isize + p as isize * a.col_stride) as usize];
    let brow = |p: usize| {
        let start = (b.offset as isize + p as isize * b.row_stride) as usize;
        &b.data[start..start + n]
    };
    let mut p = 0;
    while p + 4 <= k {
        let (a0, a1, a2, a3) = (av(p), av(p + 1), av(p + 2), av(p + 3));
        let (b0, b1, b2, b3) = (brow(p), brow(p + 1), brow(p + 2), brow(p + 3));
        for j in 0..n {
            row[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
        }
        p += 4;
    }
    for p in p..k {
        let a0 = av(p);
        row.iter_mut().zip(brow(p)).for_each(|(r, &bv)| *r += a0 * bv);
    }
}

/// `row_times_matrix` with AVX2 + FMA intrinsics: 16 columns at a time, kept in registers over
/// all of `k` as four interleaved partial sums (FMA latency), so `row` is read and written once.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` and `b` are in bounds for 1 x k and k x n (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_times_matrix_avx2(n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, row: &mut [f32], accumulate: bool) {
    use std::arch::x86_64::*;
    let row = &mut row[..n];
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut j0 = 0;
    while j0 < n {
        let nc = (n - j0).min(16);
        let masks = [_mm256_cmpgt_epi32(_mm256_set1_epi32(nc as i32), lane), _mm256_cmpgt_epi32(_mm256_set1_epi32(nc as i32 - 8), lane)];
        let sums = if nc == 16 { row_block_avx2::<true>(k, a, b, j0, masks) } else { row_block_avx2::<false>(k, a, b, j0, masks) };
        for (h, (sum, mask)) in sums.into_iter().zip(masks).enumerate() {
            let dst = row.as_mut_ptr().add(j0 + 8 * h);
            let value = if accumulate { _mm256_add_ps(_mm256_maskload_ps(dst, mask), sum) } else { sum };
            _mm256_maskstore_ps(dst, mask, value);
        }
        j0 += 16;
    }
}

/// Columns `j0..j0 + 16` of `a @ b` (lanes outside `masks` zero); `FULL`: all 16 in range.
///
/// # Safety
/// As `row_times_matrix_avx2`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn row_block_avx2<const FULL: bool>(k: usize, a: MatRef<'_>, b: MatRef<'_>, j0: usize, masks: [std::arch::x86_64::__m256i; 2]) -> [std::arch::x86_64::__m256; 2] {
    use std::arch::x86_64::*;
    let a_at = |p: usize| *a.data.as_ptr().offset(a.offset as isize + p as isize * a.col_stride);
    let base = b.data.as_ptr().offset(b.offset as isize + j0 as isize);
    let load = |p: usize, h: usize| {
        let at = base.offset(p as isize * b.row_stride).add(8 * h);
        if FULL {
            _mm256_loadu_ps(at)
        } else {
            _mm256_maskload_ps(at, masks[h])
        }
    };
    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
    let mut p = 0;
    while p + 4 <= k {
        for (s, acc) in acc.iter_mut().enumerate() {
            let av = _mm256_set1_ps(a_at(p + s));
            acc[0] = _mm256_fmadd_ps(av, load(p + s, 0), acc[0]);
            acc[1] = _mm256_fmadd_ps(av, load(p + s, 1), acc[1]);
        }
        p += 4;
    }
    for p in p..k {
        let av = _mm256_set1_ps(a_at(p));
        acc[0][0] = _mm256_fmadd_ps(av, load(p, 0), acc[0][0]);
        acc[0][1] = _mm256_fmadd_ps(av, load(p, 1), acc[0][1]);
    }
    let sum = |h: usize| _mm256_add_ps(_mm256_add_ps(acc[0][h], acc[1][h]), _mm256_add_ps(acc[2][h], acc[3][h]));
    [sum(0), sum(1)]
}

/// Check a GEMM's operands against the output block (a violation is a bug in the caller:
/// panics), and do the empty cases: nothing for an empty output, zeros (or nothing when
/// accumulating) for k = 0. Returns whether that finished the product.
#[allow(clippy::too_many_arguments)]
fn trivial(m: usize, n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], offset: usize, row_stride: usize, accumulate: bool) -> bool {
    assert!(row_stride >= n, "gemm: row stride below the row length");
    assert!(m == 0 || n == 0 || c.len() >= offset + (m - 1) * row_stride + n, "gemm: output buffer too small");
    assert!(a.in_bounds(m, k) && b.in_bounds(k, n), "gemm: operand out of bounds");
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                c[offset + r * row_stride..offset + r * row_stride + n].fill(0.0);
            }
        }
        return true;
    }
    false
}

/// `gemm_into` on the calling thread only, for callers that already split their work across
/// the workers (a recurrent layer runs each batch slice's whole time loop on one thread).
#[allow(clippy::too_many_arguments)]
pub fn gemm_into_serial(m: usize, n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], offset: usize, row_stride: usize, accumulate: bool) {
    if trivial(m, n, k, a, b, c, offset, row_stride, accumulate) {
        return;
    }
    // SAFETY: the block is inside `c` (checked above), which is exclusively borrowed.
    unsafe { gemm_serial(m, n, k, a, b, c.as_mut_ptr().add(offset), row_stride, accumulate) }
}

/// The output pointer shared by the parallel parts (each writes its own disjoint block).
struct SharedOut(*mut f32);
// SAFETY: every part writes a disjoint region; the scope ends before `c`'s borrow does.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

fn offset_by(offset: usize, index: usize, stride: isize) -> usize {
    (offset as isize + index as isize * stride) as usize
}

/// Split `len` into at most `parts` contiguous ranges, boundaries on multiples of `align`.
fn split(len: usize, parts: usize, align: usize) -> Vec<(usize, usize)> {
    let per = len.div_ceil(parts).div_ceil(align) * align;
    (0..parts).map(|i| (i * per, per.min(len.saturating_sub(i * per)))).filter(|&(_, l)| l > 0).collect()
}

/// One single-threaded gemm call writing `m x n` values at `dst` with row stride `dst_row`.
///
/// # Safety
/// `dst` must be valid for writes of the `m x n` block with row stride `dst_row`, and no other
/// thread may touch that block during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_serial(m: usize, n: usize, k: usize, a: MatRef<'_>, b: MatRef<'_>, dst: *mut f32, dst_row: usize, accumulate: bool) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_row as isize,
        accumulate,
        a.data.as_ptr().add(a.offset),
        a.col_stride,
        a.row_stride,
        b.data.as_ptr().add(b.offset),
        b.col_stride,
        b.row_stride,
        1.0f32,
        1.0f32,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] as f64 * b[p * n + j] as f64;
                }
            }
        }
        c
    }

    #[test]
    fn odd_shapes_match_naive() {
        for &(m, n, k) in &[(1, 1, 1), (7, 63, 65), (65, 7, 257), (130, 129, 3)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 17) % 7) as f32 - 3.0).collect();
            let mut c = vec![0.0f32; m * n];
            gemm(m, n, k, MatRef::row_major(&a, k), MatRef::row_major(&b, n), &mut c, false);
            let want = naive(m, n, k, &a, &b);
            for (x, y) in c.iter().zip(&want) {
                assert!((*x as f64 - y).abs() <= 1e-3 * y.abs().max(1.0));
            }
        }
    }

    #[test]
    fn row_vector_path_matches_naive() {
        // Full and partial blocks of 16 columns, k with and without a tail of 4, accumulating.
        for &(n, k, accumulate) in &[(37, 300, false), (10, 1601, false), (16, 3, true), (5, 7, true), (64, 288, false)] {
            let a: Vec<f32> = (0..k).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 17) % 7) as f32 - 3.0).collect();
            let mut c = vec![1.0f32; n];
            gemm(1, n, k, MatRef::row_major(&a, k), MatRef::row_major(&b, n), &mut c, accumulate);
            for (x, y) in c.iter().zip(&naive(1, n, k, &a, &b)) {
                let y = y + if accumulate { 1.0 } else { 0.0 };
                assert!((*x as f64 - y).abs() <= 1e-3 * y.abs().max(1.0), "n {n} k {k}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn transposed_operands_by_stride() {
        // a is stored as k x m and read transposed.
        let (m, n, k) = (3, 2, 4);
        let a_t: Vec<f32> = (0..k * m).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32) * 0.5).collect();
        let mut c = vec![0.0f32; m * n];
        gemm(m, n, k, MatRef::row_major(&a_t, m).t(), MatRef::row_major(&b, n), &mut c, false);
        let mut a = vec![0.0f32; m * k];
        for p in 0..k {
            for i in 0..m {
                a[i * k + p] = a_t[p * m + i];
            }
        }
        let want = naive(m, n, k, &a, &b);
        for (x, y) in c.iter().zip(&want) {
            assert!((*x as f64 - y).abs() < 1e-4);
        }
    }
}

//! Convolution + bias + activation + max pooling in one pass, for inference (no gradient).
//!
//! A direct NHWC convolution (no im2col buffer, no GEMM packing) computes only the convolution
//! rows that one row of pooling windows reads, 16 output channels at a time, into a small band
//! buffer that stays in L1; bias, activation and the max over each window are applied there, and
//! only the pooled values are written out. The convolution output, the largest activation of an
//! image model, is never stored, and rows or columns no window reads (a 'valid' 2x2 pool over an
//! odd-sized output drops the last of each) are never computed.
//!
//! The micro-kernel keeps a tile of up to 6 output pixels x 16 channels in 12 AVX2 registers and,
//! for each tap and input channel, broadcasts one input value per pixel against two vectors of
//! weights read straight from the Keras (kh, kw, in, out) kernel. It is compiled with AVX2 + FMA
//! and picked at run time (the crate targets baseline x86-64); elsewhere a portable loop runs the
//! same schedule.

use super::activation::Activation;
use super::conv::ConvGeometry;
use super::parallel::SharedMut;
use super::pool::PoolGeometry;

/// Output channels per block: two AVX2 vectors.
const BLOCK: usize = 16;
/// Output pixels per micro-kernel call: 6 x 2 accumulators, 2 weight vectors and a broadcast
/// fill 15 of the 16 vector registers.
const TILE: usize = 6;
/// Below this many multiply-adds the call stays on the calling thread. One image through W6's
/// second convolution (1.8M) stays serial: on our 2-vCPU VM two threads ran `predict` in 50-55
/// us against 49 us on one (runs E and H, BENCHMARKS.md): the fork-join and the shared second
/// vCPU ate the gain.
const PARALLEL_MIN_FMAS: usize = 1 << 22;
/// Multiply-adds per parallel part, roughly: rows of pooling windows are grouped up to this.
const PART_FMAS: usize = 1 << 17;

/// The hot loops of a part: portable, or AVX2 + FMA intrinsics.
trait Kernels {
    /// `pixels` (1..=TILE) output pixels whose windows start at `x + offsets[p]`, taps at
    /// `taps[t]` further, `in_c` channels each; weights from `w` (the block's first output
    /// channel of tap 0, input channel 0; rows `out_c` apart), the first `nc` (1..=BLOCK)
    /// channels of the block valid; writes `pixels x BLOCK` sums at `dst`.
    ///
    /// # Safety
    /// Every address read is inside the input and the kernel; `dst` holds `pixels * BLOCK`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(pixels: usize, x: *const f32, offsets: &[usize; TILE], taps: &[usize], in_c: usize, w: *const f32, out_c: usize, nc: usize, dst: *mut f32);
    /// The lane-wise max of `rows x width` blocks of `BLOCK` values, rows `row_stride` values
    /// apart, from `band[0]`: larger or NaN replaces; a NaN already there stays (as `max_pool`).
    fn window_max(band: &[f32], rows: usize, row_stride: usize, width: usize) -> [f32; BLOCK];
    /// `v += bias`, then ReLU when `relu`.
    fn bias_relu(v: &mut [f32; BLOCK], bias: &[f32; BLOCK], relu: bool);
}

/// `max_pool(activation(conv(x, kernel) + bias))`, NHWC in and out (`pool.out_len()` values).
/// `pool` describes the pooling of the convolution's output: `pool.in_h/in_w/channels/batch`
/// equal `geo.out_h/out_w/out_c/batch`. Groups must be 1.
pub fn conv2d_max_pool(geo: &ConvGeometry, x: &[f32], kernel: &[f32], bias: Option<&[f32]>, activation: Activation, pool: &PoolGeometry) -> Vec<f32> {
    run(geo, x, kernel, bias, activation, pool, super::fastmath::has_avx2())
}

/// The portable schedule even where AVX2 is available (tests compare the two).
pub fn conv2d_max_pool_portable(geo: &ConvGeometry, x: &[f32], kernel: &[f32], bias: Option<&[f32]>, activation: Activation, pool: &PoolGeometry) -> Vec<f32> {
    run(geo, x, kernel, bias, activation, pool, false)
}

/// `x` with the convolution's padding made real (zeros), so the kernel never checks bounds: the
/// geometry to use with it and the padded copy, or `None` when no window leaves the input.
fn without_padding(geo: &ConvGeometry, x: &[f32]) -> (ConvGeometry, Option<Vec<f32>>) {
    let need_h = (geo.out_h.max(1) - 1) * geo.stride_h + (geo.kernel_h - 1) * geo.dilation_h + 1;
    let need_w = (geo.out_w.max(1) - 1) * geo.stride_w + (geo.kernel_w - 1) * geo.dilation_w + 1;
    if geo.pad_top == 0 && geo.pad_left == 0 && need_h <= geo.in_h && need_w <= geo.in_w {
        return (*geo, None);
    }
    let h = need_h.max(geo.in_h + geo.pad_top);
    let w = need_w.max(geo.in_w + geo.pad_left);
    let c = geo.in_c;
    let mut padded = vec![0.0f32; geo.batch * h * w * c];
    for b in 0..geo.batch {
        for y in 0..geo.in_h {
            let src = ((b * geo.in_h + y) * geo.in_w) * c;
            let dst = ((b * h + y + geo.pad_top) * w + geo.pad_left) * c;
            padded[dst..dst + geo.in_w * c].copy_from_slice(&x[src..src + geo.in_w * c]);
        }
    }
    (ConvGeometry { in_h: h, in_w: w, pad_top: 0, pad_left: 0, ..*geo }, Some(padded))
}

/// `simd`: use the AVX2 micro-kernel and epilogue (the caller checked the CPU).
fn run(geo: &ConvGeometry, x: &[f32], kernel: &[f32], bias: Option<&[f32]>, activation: Activation, pool: &PoolGeometry, simd: bool) -> Vec<f32> {
    assert_eq!(geo.groups, 1, "conv2d_max_pool: grouped convolutions are not fused");
    assert!(pool.batch == geo.batch && pool.in_h == geo.out_h && pool.in_w == geo.out_w && pool.channels == geo.out_c, "conv2d_max_pool: pooling geometry does not match the convolution's output");
    assert!(x.len() >= geo.batch * geo.in_h * geo.in_w * geo.in_c && kernel.len() >= geo.kernel_h * geo.kernel_w * geo.in_c * geo.out_c);
    let mut out = super::uninit(pool.out_len()); // every (pixel, channel) is written by one part
    if out.is_empty() {
        return out;
    }
    let (geo, padded) = without_padding(geo, x);
    let x = padded.as_deref().unwrap_or(x);
    // Input offset of each tap relative to its window's origin.
    let taps: Vec<usize> = (0..geo.kernel_h)
        .flat_map(|ky| (0..geo.kernel_w).map(move |kx| (ky * geo.dilation_h * geo.in_w + kx * geo.dilation_w) * geo.in_c))
        .collect();
    // Convolution columns the windows read (the same for every row of windows).
    let (_, _, col_lo, _) = pool.window(0, 0);
    let (_, _, _, col_hi) = pool.window(0, pool.out_w - 1);
    let cols = col_hi.saturating_sub(col_lo);
    let max_rows = (0..pool.out_h).map(|py| pool.window(py, 0)).map(|(y0, y1, _, _)| y1.saturating_sub(y0)).max().unwrap_or(0);
    let blocks = geo.out_c.div_ceil(BLOCK);
    let units = geo.batch * pool.out_h; // one row of windows of one image
    let unit_fmas = (max_rows * cols * BLOCK * taps.len() * geo.in_c).max(1);
    let per_part = (PART_FMAS / unit_fmas).clamp(1, units);
    let groups = units.div_ceil(per_part);
    let out_ptr = SharedMut(out.as_mut_ptr());
    let out_ptr = &out_ptr;
    // The bias zero-padded to whole blocks (no bias: zeros).
    let mut bias_padded = vec![0.0f32; blocks * BLOCK];
    if let Some(b) = bias {
        bias_padded[..geo.out_c].copy_from_slice(&b[..geo.out_c]);
    }
    let band_len = max_rows * cols * BLOCK;
    let ctx = Band { geo: &geo, pool, x, kernel, bias: &bias_padded, activation, activation_is_monotone: is_monotone(activation), taps: &taps, col_lo, cols, band_len };
    let run_part = |part: usize| {
        let (block, group) = (part / groups, part % groups);
        // The convolution rows, then one row of pooled values.
        let mut band = super::uninit(band_len + pool.out_w * BLOCK);
        for unit in group * per_part..((group + 1) * per_part).min(units) {
            // SAFETY: this part alone writes block `block`'s channels of unit `unit`'s row; the
            // AVX2 path runs only where the caller found AVX2 and FMA.
            unsafe {
                #[cfg(target_arch = "x86_64")]
                if simd {
                    avx2::unit(&ctx, unit, block, &mut band, out_ptr.0);
                    continue;
                }
                ctx.unit::<Portable>(unit, block, &mut band, out_ptr.0);
            }
        }
    };
    let parts = blocks * groups;
    if units * blocks * unit_fmas >= PARALLEL_MIN_FMAS && parts > 1 && super::parallel::threads() > 1 {
        super::workers::run_parts(parts, &run_part);
    } else {
        (0..parts).for_each(run_part);
    }
    out
}

/// What every part shares.
struct Band<'a> {
    geo: &'a ConvGeometry,
    pool: &'a PoolGeometry,
    x: &'a [f32],
    kernel: &'a [f32],
    /// Zero-padded to whole blocks.
    bias: &'a [f32],
    activation: Activation,
    activation_is_monotone: bool,
    taps: &'a [usize],
    col_lo: usize,
    cols: usize,
    /// Values of the convolution rows' part of a part's buffer.
    band_len: usize,
}

impl Band<'_> {
    /// Row `unit % pool.out_h` of windows of image `unit / pool.out_h`, channels of `block`:
    /// convolution rows into `band`, then bias, activation and the window maxima into `out`.
    ///
    /// # Safety
    /// `out` holds `pool.out_len()` values and no other thread writes this unit's block.
    #[inline(always)]
    unsafe fn unit<K: Kernels>(&self, unit: usize, block: usize, band: &mut [f32], out: *mut f32) {
        let (geo, pool) = (self.geo, self.pool);
        let (image, py) = (unit / pool.out_h, unit % pool.out_h);
        let (row_lo, row_hi, _, _) = pool.window(py, 0);
        let oc0 = block * BLOCK;
        let nc = BLOCK.min(geo.out_c - oc0);
        let pixels = (row_hi - row_lo) * self.cols;
        // Balanced tiles: as few as TILE allows, sizes differing by at most one.
        let tiles = pixels.div_ceil(TILE);
        let mut offsets = [0usize; TILE];
        let (row_step, col_step) = (geo.stride_h * geo.in_w * geo.in_c, geo.stride_w * geo.in_c);
        let first_col = ((image * geo.in_h + row_lo * geo.stride_h) * geo.in_w + self.col_lo * geo.stride_w) * geo.in_c;
        let (mut row_start, mut col) = (first_col, 0);
        let mut q = 0;
        for t in 0..tiles {
            let size = pixels / tiles + usize::from(t < pixels % tiles);
            for off in offsets.iter_mut().take(size) {
                *off = row_start + col * col_step;
                col += 1;
                if col == self.cols {
                    (row_start, col) = (row_start + row_step, 0);
                }
            }
            // SAFETY: every window lies inside `x` (padding was made real), the weights of
            // channels below `nc` inside `kernel`, and `band` has room for `pixels` rows.
            K::tile(size, self.x.as_ptr(), &offsets, self.taps, geo.in_c, self.kernel.as_ptr().add(oc0), geo.out_c, nc, band.as_mut_ptr().add(q * BLOCK));
            q += size;
        }
        let (band, pooled) = band.split_at_mut(self.band_len);
        let band = &mut band[..pixels * BLOCK];
        let bias: &[f32; BLOCK] = self.bias[oc0..oc0 + BLOCK].try_into().expect("bias padded to whole blocks");
        // A non-decreasing activation commutes with the max (and so does adding the bias): then
        // only the pooled values get them, a quarter of the work for 2x2 windows.
        let pool_first = self.activation_is_monotone;
        let relu = self.activation == Activation::Relu;
        if !pool_first {
            band.chunks_exact_mut(BLOCK).for_each(|v| K::bias_relu(v.try_into().expect("a block"), bias, false));
            self.activation.apply_in_place(band);
        }
        for (px, best) in pooled.chunks_exact_mut(BLOCK).enumerate().take(pool.out_w) {
            let best: &mut [f32; BLOCK] = best.try_into().expect("a block");
            let (_, _, x0, x1) = pool.window(py, px);
            *best = K::window_max(&band[(x0 - self.col_lo) * BLOCK..], row_hi - row_lo, self.cols * BLOCK, x1 - x0);
            if pool_first {
                K::bias_relu(best, bias, relu);
            }
        }
        let pooled = &mut pooled[..pool.out_w * BLOCK];
        if pool_first && !relu {
            self.activation.apply_in_place(pooled);
        }
        let row = out.add((image * pool.out_h + py) * pool.out_w * geo.out_c + oc0);
        for (px, best) in pooled.chunks_exact(BLOCK).enumerate() {
            let dst = std::slice::from_raw_parts_mut(row.add(px * geo.out_c), nc);
            if nc == BLOCK {
                dst.copy_from_slice(best);
            } else {
                dst.iter_mut().zip(best).for_each(|(d, &v)| *d = v);
            }
        }
    }
}

/// Whether `a` never decreases (so `max(a(x + b)) == a(max(x) + b)` exactly, NaN included).
fn is_monotone(a: Activation) -> bool {
    match a {
        Activation::Linear | Activation::Relu | Activation::HardSigmoid => true,
        Activation::LeakyRelu { negative_slope } => negative_slope >= 0.0,
        Activation::ReluGeneral { negative_slope, .. } => negative_slope >= 0.0,
        // The others go through libm (or have a dip: gelu, silu); applied before the max.
        _ => false,
    }
}

/// Plain loops (LLVM vectorises them for the target the crate is built for).
struct Portable;

impl Kernels for Portable {
    unsafe fn tile(pixels: usize, x: *const f32, offsets: &[usize; TILE], taps: &[usize], in_c: usize, w: *const f32, out_c: usize, nc: usize, dst: *mut f32) {
        let mut acc = [[0.0f32; BLOCK]; TILE];
        for (t, &tap) in taps.iter().enumerate() {
            let wt = w.add(t * in_c * out_c);
            for c in 0..in_c {
                let mut wv = [0.0f32; BLOCK];
                std::ptr::copy_nonoverlapping(wt.add(c * out_c), wv.as_mut_ptr(), nc);
                for (p, acc) in acc.iter_mut().enumerate().take(pixels) {
                    let a = *x.add(offsets[p] + tap + c);
                    acc.iter_mut().zip(&wv).for_each(|(s, &w)| *s += a * w);
                }
            }
        }
        std::ptr::copy_nonoverlapping(acc.as_ptr() as *const f32, dst, pixels * BLOCK);
    }

    #[inline(always)]
    fn window_max(band: &[f32], rows: usize, row_stride: usize, width: usize) -> [f32; BLOCK] {
        let mut best = [f32::NEG_INFINITY; BLOCK];
        for r in 0..rows {
            for v in band[r * row_stride..r * row_stride + width * BLOCK].chunks_exact(BLOCK) {
                best.iter_mut().zip(v).for_each(|(d, &v)| *d = if (v > *d) | v.is_nan() { v } else { *d });
            }
        }
        best
    }

    #[inline(always)]
    fn bias_relu(v: &mut [f32; BLOCK], bias: &[f32; BLOCK], relu: bool) {
        v.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        if relu {
            Activation::Relu.apply_in_place(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Band, Kernels, BLOCK, TILE};
    use std::arch::x86_64::*;

    /// The intrinsics; only ever inlined into `unit` below, which enables AVX2 and FMA.
    pub struct Avx2;

    /// `Band::unit` compiled for AVX2 + FMA: the micro-kernel inlined, the epilogue and the
    /// window maxima vectorised 8 wide.
    ///
    /// # Safety
    /// As `Band::unit`, and the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn unit(band: &Band<'_>, unit: usize, block: usize, buffer: &mut [f32], out: *mut f32) {
        band.unit::<Avx2>(unit, block, buffer, out)
    }

    impl Kernels for Avx2 {
        #[inline(always)]
        unsafe fn tile(pixels: usize, x: *const f32, offsets: &[usize; TILE], taps: &[usize], in_c: usize, w: *const f32, out_c: usize, nc: usize, dst: *mut f32) {
            tile(pixels, x, offsets, taps, in_c, w, out_c, nc, dst)
        }

        #[inline(always)]
        fn window_max(band: &[f32], rows: usize, row_stride: usize, width: usize) -> [f32; BLOCK] {
            assert!(rows == 0 || width == 0 || band.len() >= (rows - 1) * row_stride + width * BLOCK);
            // SAFETY: AVX2 is enabled where this is inlined; every read is inside `band`
            // (checked above).
            unsafe {
                let mut best = [_mm256_set1_ps(f32::NEG_INFINITY); 2];
                // NaN lanes seen, kept apart so the max chain stays one instruction per value.
                let mut nan = [_mm256_setzero_ps(); 2];
                for r in 0..rows {
                    let row = band.as_ptr().add(r * row_stride);
                    for c in 0..width {
                        for h in 0..2 {
                            let v = _mm256_loadu_ps(row.add(c * BLOCK + 8 * h));
                            // max(v, b) is b on a tie (the first maximum stays, as in
                            // `max_pool`) and when either is NaN (tracked apart).
                            best[h] = _mm256_max_ps(v, best[h]);
                            nan[h] = _mm256_or_ps(nan[h], _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                        }
                    }
                }
                // A lane that saw a NaN is NaN (all bits set), as `max_pool` keeps the NaN.
                let best = [_mm256_or_ps(best[0], nan[0]), _mm256_or_ps(best[1], nan[1])];
                let mut out = [0.0f32; BLOCK];
                _mm256_storeu_ps(out.as_mut_ptr(), best[0]);
                _mm256_storeu_ps(out.as_mut_ptr().add(8), best[1]);
                out
            }
        }

        #[inline(always)]
        fn bias_relu(v: &mut [f32; BLOCK], bias: &[f32; BLOCK], relu: bool) {
            // SAFETY: as above.
            unsafe {
                for h in [0, 8] {
                    let mut s = _mm256_add_ps(_mm256_loadu_ps(v.as_ptr().add(h)), _mm256_loadu_ps(bias.as_ptr().add(h)));
                    if relu {
                        // max(0, s) is s when s is NaN (NaN stays, as in `Activation::Relu`)
                        // and -0.0 for -0.0.
                        s = _mm256_max_ps(_mm256_setzero_ps(), s);
                    }
                    _mm256_storeu_ps(v.as_mut_ptr().add(h), s);
                }
            }
        }
    }

    /// The AVX2 micro-kernel (see `Kernels::tile`).
    ///
    /// # Safety
    /// As `Kernels::tile`, and the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(pixels: usize, x: *const f32, offsets: &[usize; TILE], taps: &[usize], in_c: usize, w: *const f32, out_c: usize, nc: usize, dst: *mut f32) {
        if nc == BLOCK {
            match pixels {
                6 => tile_n::<6, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
                5 => tile_n::<5, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
                4 => tile_n::<4, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
                3 => tile_n::<3, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
                2 => tile_n::<2, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
                _ => tile_n::<1, true>(x, offsets, taps, in_c, w, out_c, nc, dst),
            }
        } else {
            match pixels {
                6 => tile_n::<6, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
                5 => tile_n::<5, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
                4 => tile_n::<4, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
                3 => tile_n::<3, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
                2 => tile_n::<2, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
                _ => tile_n::<1, false>(x, offsets, taps, in_c, w, out_c, nc, dst),
            }
        }
    }

    /// `P` pixels; `FULL`: all 16 channels valid (plain loads), else masked loads of `nc`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_n<const P: usize, const FULL: bool>(x: *const f32, offsets: &[usize; TILE], taps: &[usize], in_c: usize, w: *const f32, out_c: usize, nc: usize, dst: *mut f32) {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc as i32), lane);
        let mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc as i32 - 8), lane);
        let mut acc = [[_mm256_setzero_ps(); 2]; P];
        if in_c == 1 {
            // One channel (a first layer on grayscale images): one step per tap, the input
            // read at [tap base + pixel offset] without per-pixel pointers.
            let mut wp = w;
            for &tap in taps {
                let xt = x.add(tap);
                let (w0, w1) = if FULL { (_mm256_loadu_ps(wp), _mm256_loadu_ps(wp.add(8))) } else { (_mm256_maskload_ps(wp, mask0), _mm256_maskload_ps(wp.add(8), mask1)) };
                for p in 0..P {
                    let a = _mm256_broadcast_ss(&*xt.add(offsets[p]));
                    acc[p][0] = _mm256_fmadd_ps(a, w0, acc[p][0]);
                    acc[p][1] = _mm256_fmadd_ps(a, w1, acc[p][1]);
                }
                wp = wp.add(out_c);
            }
        }
        for (t, &tap) in taps.iter().enumerate().filter(|_| in_c != 1) {
            let mut wp = w.add(t * in_c * out_c);
            let mut xp = [x; P];
            for p in 0..P {
                xp[p] = x.add(offsets[p] + tap);
            }
            for c in 0..in_c {
                let (w0, w1) = if FULL {
                    (_mm256_loadu_ps(wp), _mm256_loadu_ps(wp.add(8)))
                } else {
                    (_mm256_maskload_ps(wp, mask0), _mm256_maskload_ps(wp.add(8), mask1))
                };
                for p in 0..P {
                    let a = _mm256_broadcast_ss(&*xp[p].add(c));
                    acc[p][0] = _mm256_fmadd_ps(a, w0, acc[p][0]);
                    acc[p][1] = _mm256_fmadd_ps(a, w1, acc[p][1]);
                }
                wp = wp.add(out_c);
            }
        }
        for p in 0..P {
            _mm256_storeu_ps(dst.add(p * BLOCK), acc[p][0]);
            _mm256_storeu_ps(dst.add(p * BLOCK + 8), acc[p][1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::conv2d_forward;
    use crate::cpu::pool::max_pool;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0).collect()
    }

    /// The unfused composition: conv2d_forward, bias, activation, max_pool.
    fn unfused(geo: &ConvGeometry, x: &[f32], kernel: &[f32], bias: &[f32], activation: Activation, pool: &PoolGeometry) -> Vec<f32> {
        let mut y = vec![0.0f32; geo.batch * geo.out_h * geo.out_w * geo.out_c];
        conv2d_forward(geo, x, kernel, &mut y);
        y.chunks_mut(geo.out_c).for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
        activation.apply_in_place(&mut y);
        max_pool(pool, &y)
    }

    #[allow(clippy::too_many_arguments)]
    fn case(batch: usize, (h, w, cin): (usize, usize, usize), (kh, kw, cout): (usize, usize, usize), stride: usize, dilation: usize, pad: usize, (ph, pw, ps, ppad): (usize, usize, usize, usize)) {
        let out = |n: usize, k: usize| (n + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
        let geo = ConvGeometry {
            batch, in_h: h, in_w: w, in_c: cin, kernel_h: kh, kernel_w: kw, out_c: cout, groups: 1, stride_h: stride, stride_w: stride,
            dilation_h: dilation, dilation_w: dilation, pad_top: pad, pad_left: pad, out_h: out(h, kh), out_w: out(w, kw),
        };
        let pout = |n: usize| (n + 2 * ppad - ph.max(pw)) / ps + 1;
        let _ = pw;
        let pool = PoolGeometry {
            batch, in_h: geo.out_h, in_w: geo.out_w, channels: cout, pool_h: ph, pool_w: pw, stride_h: ps, stride_w: ps,
            pad_top: ppad, pad_left: ppad, out_h: pout(geo.out_h), out_w: pout(geo.out_w),
        };
        let x = values(batch * h * w * cin, 1);
        let kernel = values(kh * kw * cin * cout, 2);
        let bias = values(cout, 3);
        for activation in [Activation::Relu, Activation::Linear, Activation::Tanh, Activation::Gelu { approximate: false }] {
            let want = unfused(&geo, &x, &kernel, &bias, activation, &pool);
            for (name, got) in [("dispatched", conv2d_max_pool(&geo, &x, &kernel, Some(&bias), activation, &pool)), ("portable", conv2d_max_pool_portable(&geo, &x, &kernel, Some(&bias), activation, &pool))] {
                assert_eq!(got.len(), want.len());
                for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                    assert!((g - e).abs() <= 1e-4 * e.abs().max(1.0), "{name} {activation:?} {geo:?}: [{i}] {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn matches_the_unfused_ops() {
        // The W6 shapes, batch 1 and 2 (several parts, full blocks of 16 channels).
        case(1, (28, 28, 1), (3, 3, 32), 1, 1, 0, (2, 2, 2, 0));
        case(2, (13, 13, 32), (3, 3, 64), 1, 1, 0, (2, 2, 2, 0));
        // Odd sizes, partial channel blocks (5, 21, 33), strides, dilation, padding of both.
        case(1, (9, 11, 1), (3, 3, 5), 1, 1, 0, (2, 2, 2, 0));
        case(3, (12, 9, 3), (2, 3, 21), 2, 1, 0, (2, 2, 1, 0));
        case(2, (11, 12, 5), (3, 3, 33), 1, 1, 1, (3, 3, 2, 1));
        case(1, (15, 14, 4), (3, 3, 16), 1, 2, 0, (2, 2, 2, 0));
        case(1, (8, 7, 2), (5, 5, 7), 2, 1, 2, (1, 1, 1, 0));
    }

    #[test]
    fn nan_propagates_like_max_pool() {
        let geo = ConvGeometry {
            batch: 1, in_h: 4, in_w: 4, in_c: 1, kernel_h: 1, kernel_w: 1, out_c: 3, groups: 1, stride_h: 1, stride_w: 1,
            dilation_h: 1, dilation_w: 1, pad_top: 0, pad_left: 0, out_h: 4, out_w: 4,
        };
        let pool = PoolGeometry { batch: 1, in_h: 4, in_w: 4, channels: 3, pool_h: 2, pool_w: 2, stride_h: 2, stride_w: 2, pad_top: 0, pad_left: 0, out_h: 2, out_w: 2 };
        let mut x = vec![1.0f32; 16];
        x[5] = f32::NAN; // last pixel of the first window
        x[10] = f32::NAN; // first pixel of the last window
        for got in [conv2d_max_pool(&geo, &x, &[1.0, -1.0, 0.5], None, Activation::Relu, &pool), conv2d_max_pool_portable(&geo, &x, &[1.0, -1.0, 0.5], None, Activation::Relu, &pool)] {
            let nan: Vec<bool> = got.iter().map(|v| v.is_nan()).collect();
            assert_eq!(nan, [true, true, true, false, false, false, false, false, false, true, true, true]);
            assert_eq!((got[3], got[4], got[5]), (1.0, 0.0, 0.5));
        }
    }
}

//! 2-D pooling on NHWC data (1-D pooling is the H = 1 case). Max pooling keeps the argmax of each
//! window for its backward pass; average pooling divides by the number of real (unpadded)
//! values in the window, as Keras does.

/// Window geometry (padding already resolved).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub pool_h: usize,
    pub pool_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl PoolGeometry {
    /// The window of output pixel (oy, ox), clipped to the input: (y0, y1, x0, x1).
    pub(crate) fn window(&self, oy: usize, ox: usize) -> (usize, usize, usize, usize) {
        let y = (oy * self.stride_h) as isize - self.pad_top as isize;
        let x = (ox * self.stride_w) as isize - self.pad_left as isize;
        let y0 = y.max(0) as usize;
        let x0 = x.max(0) as usize;
        let y1 = ((y + self.pool_h as isize).max(0) as usize).min(self.in_h);
        let x1 = ((x + self.pool_w as isize).max(0) as usize).min(self.in_w);
        (y0, y1, x0, x1)
    }

    pub fn out_len(&self) -> usize {
        self.batch * self.out_h * self.out_w * self.channels
    }

    /// For each input row, whether some window reads it.
    fn rows_read(&self) -> Vec<bool> {
        let mut read = vec![false; self.in_h];
        for oy in 0..self.out_h {
            let (y0, y1, _, _) = self.window(oy, 0);
            read[y0..y1].iter_mut().for_each(|r| *r = true);
        }
        read
    }

    /// For each input column, whether some window reads it.
    fn cols_read(&self) -> Vec<bool> {
        let mut read = vec![false; self.in_w];
        for ox in 0..self.out_w {
            let (_, _, x0, x1) = self.window(0, ox);
            read[x0..x1].iter_mut().for_each(|r| *r = true);
        }
        read
    }
}

/// One window of one image: its cells' offsets into the image (NHWC), in scan order. (The
/// training convolution + pooling, `conv_pool_training`, adds its own methods.)
pub(crate) struct Window {
    pub(crate) y0: usize,
    pub(crate) y1: usize,
    pub(crate) x0: usize,
    pub(crate) x1: usize,
    /// Values per input row and per pixel.
    pub(crate) row: usize,
    pub(crate) channels: usize,
}

impl Window {
    pub(crate) fn new(geo: &PoolGeometry, oy: usize, ox: usize) -> Self {
        let (y0, y1, x0, x1) = geo.window(oy, ox);
        Window { y0, y1, x0, x1, row: geo.in_w * geo.channels, channels: geo.channels }
    }

    /// Offsets of the window's pixels in the image, row by row (the order ties are broken in).
    pub(crate) fn cells(&self) -> impl Iterator<Item = usize> + '_ {
        (self.y0..self.y1).flat_map(move |iy| (self.x0..self.x1).map(move |ix| iy * self.row + ix * self.channels))
    }

    /// `dst[ch] = max over the window` for channels `from..`: larger or NaN replaces; a NaN
    /// already there stays (v > NaN is false).
    fn max(&self, x_image: &[f32], dst: &mut [f32], from: usize) {
        let c = self.channels;
        dst[from..].fill(f32::NEG_INFINITY);
        for i in self.cells() {
            dst[from..].iter_mut().zip(&x_image[i + from..i + c]).for_each(|(d, &v)| *d = if v > *d || v.is_nan() { v } else { *d });
        }
    }

    /// The window's share of max pooling's backward for channels `from..` (see
    /// `max_pool_backward`): written (`disjoint`) or added into `dx_image`. `remaining` holds
    /// `channels` values of scratch.
    #[allow(clippy::too_many_arguments)]
    fn backward(&self, x_image: &[f32], best: &[f32], grad: &[f32], relu: bool, disjoint: bool, remaining: &mut [f32], dx_image: &mut [f32], from: usize) {
        let c = self.channels;
        let remaining = &mut remaining[from..c];
        remaining.fill(1.0);
        let (best, grad) = (&best[from..], &grad[from..]);
        for i in self.cells() {
            let xs = &x_image[i + from..i + c];
            let d = &mut dx_image[i + from..i + c];
            // Zipped (no index checks) so the loop vectorises.
            for (((d, r), (&xv, &bv)), &gv) in d.iter_mut().zip(remaining.iter_mut()).zip(xs.iter().zip(best)).zip(grad) {
                let hit = if xv == bv { *r } else { 0.0 };
                *r -= hit;
                // Selected, not multiplied: a NaN or infinite gradient reaches the chosen input
                // only (0 * inf would spread NaN over the window).
                let v = if hit != 0.0 && (!relu || bv > 0.0) { gv } else { 0.0 };
                *d = if disjoint { v } else { *d + v };
            }
        }
    }
}

/// Max pooling values (NaN propagates, as in NumPy).
pub fn max_pool(geo: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut out = super::uninit(geo.out_len()); // every window writes its `c` values
    let per_image = geo.out_h * geo.out_w * c;
    let simd = super::fastmath::has_avx2();
    super::parallel::for_each_chunk_mut(&mut out, per_image.max(1), geo.out_len() >= super::PARALLEL_MIN_ELEMENTS, |b, image| {
        let x_image = &x[b * geo.in_h * geo.in_w * c..(b + 1) * geo.in_h * geo.in_w * c];
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let window = Window::new(geo, oy, ox);
                let dst = &mut image[(oy * geo.out_w + ox) * c..(oy * geo.out_w + ox + 1) * c];
                #[cfg(target_arch = "x86_64")]
                if simd {
                    // SAFETY: the CPU has AVX2 (checked above); the window lies inside the image.
                    unsafe { avx2::window_max(&window, x_image, dst) };
                    continue;
                }
                window.max(x_image, dst, 0);
            }
        }
    });
    out
}

/// Max pooling backward: each output gradient goes to the first input of its window that equals
/// the window's maximum (the forward's output `out`); with `relu`, only where that maximum is
/// above zero: the gradient through a ReLU whose output `x` is, fused (exactly what ReLU's own
/// backward from its output gives, NaN included: a NaN window sends nothing either way).
///
/// Windows that do not overlap (stride at least the window, the usual 2x2 pooling) write each
/// input's gradient once, with no zero fill before and no accumulation; overlapping windows
/// accumulate into zeros. No argmax is stored by the forward pass.
pub fn max_pool_backward(geo: &PoolGeometry, x: &[f32], out: &[f32], g: &[f32], relu: bool) -> Vec<f32> {
    let c = geo.channels;
    let image_in = geo.in_h * geo.in_w * c;
    let disjoint = geo.stride_h >= geo.pool_h && geo.stride_w >= geo.pool_w;
    // Disjoint windows: the inputs no window reads get their zero here; the rest is written once.
    let mut dx = if disjoint { super::uninit(geo.batch * image_in) } else { vec![0.0f32; geo.batch * image_in] };
    let (rows_read, cols_read) = (geo.rows_read(), geo.cols_read());
    let simd = super::fastmath::has_avx2();
    let parallel = dx.len() >= super::PARALLEL_MIN_ELEMENTS;
    super::parallel::for_each_chunk_mut(&mut dx, image_in.max(1), parallel, |b, dx_image| {
        let x_image = &x[b * image_in..(b + 1) * image_in];
        if disjoint {
            for (iy, row) in dx_image.chunks_mut(geo.in_w * c).enumerate() {
                if !rows_read[iy] {
                    row.fill(0.0);
                    continue;
                }
                row.chunks_mut(c).zip(&cols_read).filter(|(_, &read)| !read).for_each(|(pixel, _)| pixel.fill(0.0));
            }
        }
        let mut remaining = vec![0.0f32; c];
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let window = Window::new(geo, oy, ox);
                let (best, grad) = (&out[o..o + c], &g[o..o + c]);
                #[cfg(target_arch = "x86_64")]
                if simd && disjoint {
                    // SAFETY: the CPU has AVX2 (checked above); the window lies inside the image.
                    unsafe { avx2::window_backward(&window, x_image, best, grad, relu, &mut remaining, dx_image) };
                    continue;
                }
                window.backward(x_image, best, grad, relu, disjoint, &mut remaining, dx_image, 0);
            }
        }
    });
    dx
}
/// Average pooling over the real values of each window.
pub fn avg_pool(geo: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut out = vec![0.0f32; geo.out_len()];
    for b in 0..geo.batch {
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                let count = ((y1 - y0) * (x1 - x0)).max(1) as f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = ((b * geo.in_h + iy) * geo.in_w + ix) * c;
                        for ch in 0..c {
                            out[o + ch] += x[i + ch];
                        }
                    }
                }
                out[o..o + c].iter_mut().for_each(|v| *v /= count);
            }
        }
    }
    out
}

/// Average pooling backward: each output gradient spread evenly over its window's real values.
pub fn avg_pool_backward(geo: &PoolGeometry, g: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut dx = vec![0.0f32; geo.batch * geo.in_h * geo.in_w * c];
    for b in 0..geo.batch {
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                let scale = 1.0 / ((y1 - y0) * (x1 - x0)).max(1) as f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = ((b * geo.in_h + iy) * geo.in_w + ix) * c;
                        for ch in 0..c {
                            dx[i + ch] += g[o + ch] * scale;
                        }
                    }
                }
            }
        }
    }
    dx
}

/// The window loops of max pooling with AVX2 intrinsics, 8 channels at a time (a channel count
/// that is not a multiple of 8 leaves its last channels to the portable loops). Written out
/// because the portable loops, compiled for baseline x86-64, stay 4 wide with the NaN test as a
/// separate pass, and compiling them for AVX2 made them slower (BENCHMARKS.md, W3).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Window;
    use std::arch::x86_64::*;

    /// `Window::max` over all channels.
    ///
    /// # Safety
    /// The CPU has AVX2; the window lies inside `x_image`; `dst` holds `channels` values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn window_max(w: &Window, x_image: &[f32], dst: &mut [f32]) {
        let c = w.channels;
        let full = c - c % 8;
        debug_assert!(dst.len() >= c && (w.y1 == w.y0 || w.x1 == w.x0 || (w.y1 - 1) * w.row + w.x1 * c <= x_image.len()));
        let x = x_image.as_ptr();
        for ch in (0..full).step_by(8) {
            let mut best = _mm256_set1_ps(f32::NEG_INFINITY);
            // NaN lanes seen, kept apart so the max chain stays one instruction per value.
            let mut nan = _mm256_setzero_ps();
            for iy in w.y0..w.y1 {
                for ix in w.x0..w.x1 {
                    let v = _mm256_loadu_ps(x.add(iy * w.row + ix * c + ch));
                    // max(v, best) is best on a tie (the first maximum stays) and when v is NaN.
                    best = _mm256_max_ps(v, best);
                    nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                }
            }
            // A lane that saw a NaN is NaN (all bits set).
            _mm256_storeu_ps(dst.as_mut_ptr().add(ch), _mm256_or_ps(best, nan));
        }
        if full < c {
            w.max(x_image, dst, full);
        }
    }

    /// `Window::backward` for disjoint windows (the gradient written, not added), all channels.
    ///
    /// # Safety
    /// As `window_max`, with `dx_image` shaped like `x_image`; `best`, `grad` and `remaining`
    /// hold `channels` values.
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn window_backward(w: &Window, x_image: &[f32], best: &[f32], grad: &[f32], relu: bool, remaining: &mut [f32], dx_image: &mut [f32]) {
        let c = w.channels;
        let full = c - c % 8;
        debug_assert!(best.len() >= c && grad.len() >= c && dx_image.len() == x_image.len());
        let (x, dx) = (x_image.as_ptr(), dx_image.as_mut_ptr());
        for ch in (0..full).step_by(8) {
            let bv = _mm256_loadu_ps(best.as_ptr().add(ch));
            let mut gv = _mm256_loadu_ps(grad.as_ptr().add(ch));
            if relu {
                // Ordered compare: a NaN maximum sends nothing.
                gv = _mm256_and_ps(gv, _mm256_cmp_ps::<_CMP_GT_OQ>(bv, _mm256_setzero_ps()));
            }
            let mut left = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
            for iy in w.y0..w.y1 {
                for ix in w.x0..w.x1 {
                    let i = iy * w.row + ix * c + ch;
                    let hit = _mm256_and_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_loadu_ps(x.add(i)), bv), left);
                    _mm256_storeu_ps(dx.add(i), _mm256_and_ps(hit, gv));
                    left = _mm256_andnot_ps(hit, left);
                }
            }
        }
        if full < c {
            w.backward(x_image, best, grad, relu, true, remaining, dx_image, full);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five_by_five(pool: usize, stride: usize, pad: usize, out: usize) -> PoolGeometry {
        PoolGeometry { batch: 1, in_h: 5, in_w: 5, channels: 1, pool_h: pool, pool_w: pool, stride_h: stride, stride_w: stride, pad_top: pad, pad_left: pad, out_h: out, out_w: out }
    }

    #[test]
    fn keras_reference_values() {
        let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
        // MaxPooling2D() valid: [[6,8],[16,18]]; AvgPool2D(2, padding="same"): padding after.
        assert_eq!(max_pool(&five_by_five(2, 2, 0, 2), &x), vec![6.0, 8.0, 16.0, 18.0]);
        // Ties: the gradient goes to the first maximum only.
        let geo = five_by_five(2, 2, 0, 2);
        let flat = vec![1.0f32; 25];
        let dx = max_pool_backward(&geo, &flat, &max_pool(&geo, &flat), &[1.0; 4], false);
        assert_eq!((dx[0], dx[1], dx[5], dx[6], dx.iter().sum::<f32>()), (1.0, 0.0, 0.0, 0.0, 4.0));
        assert_eq!(avg_pool(&five_by_five(2, 2, 0, 3), &x), vec![3.0, 5.0, 6.5, 13.0, 15.0, 16.5, 20.5, 22.5, 24.0]);
    }

    /// Max pooling's forward and backward by the definition, in float64: the window's maximum
    /// (NaN if any value is NaN), its gradient to the window's first maximum, added up over
    /// overlapping windows; with `relu`, only where the maximum is above zero.
    fn reference(geo: &PoolGeometry, x: &[f32], g: &[f32], relu: bool) -> (Vec<f64>, Vec<f64>) {
        let c = geo.channels;
        let (mut out, mut dx) = (vec![0.0f64; geo.out_len()], vec![0.0f64; x.len()]);
        for b in 0..geo.batch {
            for oy in 0..geo.out_h {
                for ox in 0..geo.out_w {
                    let (y0, y1, x0, x1) = geo.window(oy, ox);
                    for ch in 0..c {
                        let at = |iy: usize, ix: usize| ((b * geo.in_h + iy) * geo.in_w + ix) * c + ch;
                        let cells: Vec<usize> = (y0..y1).flat_map(|iy| (x0..x1).map(move |ix| (iy, ix))).map(|(iy, ix)| at(iy, ix)).collect();
                        let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c + ch;
                        let best = if cells.iter().any(|&i| x[i].is_nan()) { f64::NAN } else { cells.iter().map(|&i| x[i] as f64).fold(f64::NEG_INFINITY, f64::max) };
                        out[o] = best;
                        if let Some(&first) = cells.iter().find(|&&i| x[i] as f64 == best) {
                            if !relu || best > 0.0 {
                                dx[first] += g[o] as f64;
                            }
                        }
                    }
                }
            }
        }
        (out, dx)
    }

    #[test]
    fn max_pool_matches_the_reference() {
        // Disjoint windows (the direct-write backward, AVX2 where the CPU has it) and overlapping
        // ones (accumulated); channel counts below, at and between multiples of 8 (the AVX2
        // loops' tails); odd sizes, padding, a window not covering the last row and column; many
        // ties (values on a coarse grid, zeros for the ReLU case) and a NaN.
        let cases = [
            // (batch, in_h, in_w, channels, pool, stride, pad, out_h, out_w)
            (2, 6, 6, 32, (2, 2), (2, 2), (0, 0), 3, 3),
            (3, 7, 5, 19, (2, 2), (2, 2), (0, 0), 3, 2),
            (1, 5, 7, 8, (3, 2), (3, 3), (1, 0), 2, 2),
            (2, 5, 5, 5, (3, 3), (2, 2), (1, 1), 3, 3),
            (1, 6, 4, 1, (2, 3), (1, 1), (0, 0), 5, 2),
            (1, 9, 9, 64, (2, 2), (3, 3), (0, 0), 3, 3),
        ];
        for (i, &(batch, in_h, in_w, channels, pool, stride, pad, out_h, out_w)) in cases.iter().enumerate() {
            let geo = PoolGeometry { batch, in_h, in_w, channels, pool_h: pool.0, pool_w: pool.1, stride_h: stride.0, stride_w: stride.1, pad_top: pad.0, pad_left: pad.1, out_h, out_w };
            let n = batch * in_h * in_w * channels;
            let mut x: Vec<f32> = (0..n).map(|j| ((j * 7919 + i) % 9) as f32 - 4.0).collect();
            x[n / 3] = f32::NAN;
            let g: Vec<f32> = (0..geo.out_len()).map(|j| ((j * 31) % 13) as f32 - 6.0).collect();
            let out = max_pool(&geo, &x);
            for relu in [false, true] {
                let xs: Vec<f32> = if relu { x.iter().map(|&v| if v < 0.0 { 0.0 } else { v }).collect() } else { x.clone() };
                let out = if relu { max_pool(&geo, &xs) } else { out.clone() };
                let (want_out, want_dx) = reference(&geo, &xs, &g, relu);
                for (o, w) in out.iter().zip(&want_out) {
                    assert!((o.is_nan() && w.is_nan()) || *o as f64 == *w, "case {i}: forward {o} vs {w}");
                }
                let dx = max_pool_backward(&geo, &xs, &out, &g, relu);
                assert_eq!(dx.iter().map(|&v| v as f64).collect::<Vec<_>>(), want_dx, "case {i}, relu {relu}: backward");
            }
        }
    }

    #[test]
    fn max_pool_backward_sends_a_nan_gradient_to_the_chosen_input_only() {
        let geo = five_by_five(2, 2, 0, 2);
        let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let dx = max_pool_backward(&geo, &x, &max_pool(&geo, &x), &[f32::NAN, 1.0, 1.0, 1.0], false);
        assert!(dx[6].is_nan() && dx.iter().enumerate().all(|(i, v)| i == 6 || !v.is_nan()));
    }
}

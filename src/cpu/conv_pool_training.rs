//! Convolution + bias + ReLU (or none) + max pooling for training, by whole images
//! (`conv::ImageParts`). The forward keeps the pooled values and, per pooled value, which input
//! of its window was the first maximum (one byte); the backward rebuilds each part's gradient
//! before the pooling from those bytes in that worker's cache, and runs the bias, kernel and
//! input gradients on it there. The convolution's output and its gradient, the largest tensors
//! of an image model, never go to memory: unfused, they were written, re-read by the pooling,
//! the ReLU's backward, the bias gradient and the kernel gradient (W3's first convolution: 11 MB
//! each per batch of 128).
//!
//! Same values as `conv2d`, bias, activation and `max_pool` in sequence; the gradients are
//! theirs up to the order of the bias and kernel gradients' sums, which is fixed by the geometry
//! (not by the thread count).

use super::conv::{kernel_block, part_of, ConvGeometry, ImageParts};
use super::gemm::gemm_into_serial;
use super::parallel::SharedMut;
use super::pool::{PoolGeometry, Window};

/// The argmax of a window holding a NaN: its gradient goes nowhere (as `max_pool_backward`).
const NONE: u8 = u8::MAX;

/// The forward's results: the op's output, and what its backward needs beside the operands.
pub struct Pooled {
    /// The pooled values.
    pub values: Vec<f32>,
    /// Per pooled value, its window's first maximum in the window's scan order, or `NONE`.
    pub argmax: Vec<u8>,
}

/// The gradients the backward computed (those asked for).
pub struct Gradients {
    pub input: Option<Vec<f32>>,
    pub kernel: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// Whether `geo` then `pool` run here: not for grouped convolutions, images too large for a
/// part (`ImageParts`), overlapping windows (an input would take gradients from two windows) or
/// windows of more than 254 values.
pub fn applies(geo: &ConvGeometry, pool: &PoolGeometry) -> bool {
    parts(geo, pool).is_some()
}

/// The parts to run `geo` then `pool` by, when this path applies.
fn parts(geo: &ConvGeometry, pool: &PoolGeometry) -> Option<ImageParts> {
    let disjoint = pool.stride_h >= pool.pool_h && pool.stride_w >= pool.pool_w;
    let fits = pool.in_h == geo.out_h && pool.in_w == geo.out_w && pool.channels == geo.out_c && pool.batch == geo.batch;
    if geo.groups != 1 || !disjoint || !fits || pool.pool_h * pool.pool_w >= NONE as usize {
        return None;
    }
    ImageParts::of(geo)
}

/// The convolution's output rows of images `[first, end)` (pixels x out_c) into `y`:
/// im2col into `patches`, one single-threaded GEMM.
fn convolve(geo: &ConvGeometry, x: &[f32], kernel: &[f32], first: usize, end: usize, patches: &mut [f32], y: &mut [f32]) {
    let (k, per_image) = (geo.patch_len(), geo.out_h * geo.out_w);
    let (start, rows) = (first * per_image, (end - first) * per_image);
    let a = geo.fill_patches(x, 0, start, rows, patches, false);
    gemm_into_serial(rows, geo.out_c, k, a, kernel_block(geo, kernel, 0), y, 0, geo.out_c, false);
}

/// `max_pool(activation(conv(x, kernel) + bias))` with the argmax of each window, `relu` or
/// linear; `pool` pools the convolution's output.
///
/// # Panics
/// When the path does not apply (`applies`): a bug in the caller.
pub fn forward(geo: &ConvGeometry, pool: &PoolGeometry, x: &[f32], kernel: &[f32], bias: Option<&[f32]>, relu: bool) -> Pooled {
    let parts = parts(geo, pool).expect("conv_pool_training::forward: the caller checked `applies`");
    let (k, c, per_image) = (geo.patch_len(), geo.out_c, geo.out_h * geo.out_w);
    let pooled_image = pool.out_h * pool.out_w * c;
    let mut pooled = super::uninit(geo.batch * pooled_image); // every window writes its values
    let mut argmax = vec![0u8; geo.batch * pooled_image];
    let bias = bias.map_or_else(|| vec![0.0f32; c], <[f32]>::to_vec);
    let (pooled_at, argmax_at) = (SharedMut(pooled.as_mut_ptr()), SharedMut(argmax.as_mut_ptr()));
    let simd = super::fastmath::has_avx2();
    parts.run(geo, &|i| {
        let (first, end) = parts.images(geo, i);
        let mut patches = super::uninit((end - first) * per_image * k);
        let mut y = super::uninit((end - first) * per_image * c); // the GEMM writes every value
        convolve(geo, x, kernel, first, end, &mut patches, &mut y);
        // SAFETY: part `i` alone writes its images' pooled values and argmax.
        let (pooled, argmax) = unsafe { (part_of(&pooled_at, first * pooled_image, (end - first) * pooled_image), part_of(&argmax_at, first * pooled_image, (end - first) * pooled_image)) };
        for ((y, pooled), argmax) in y.chunks_exact(per_image * c).zip(pooled.chunks_exact_mut(pooled_image)).zip(argmax.chunks_exact_mut(pooled_image)) {
            for oy in 0..pool.out_h {
                for ox in 0..pool.out_w {
                    let o = (oy * pool.out_w + ox) * c;
                    let window = Window::new(pool, oy, ox);
                    let (pooled, argmax) = (&mut pooled[o..o + c], &mut argmax[o..o + c]);
                    #[cfg(target_arch = "x86_64")]
                    if simd {
                        // SAFETY: the CPU has AVX2 (checked above); the window lies in the image.
                        unsafe { avx2::window_argmax(&window, y, &bias, relu, pooled, argmax) };
                        continue;
                    }
                    window.epilogue_argmax(y, &bias, relu, pooled, argmax, 0);
                }
            }
        }
    });
    Pooled { values: pooled, argmax }
}

/// The gradients of `forward`'s operands from `g`, the gradient of its pooled values `pooled`
/// (with their `argmax`): those of the input, the kernel and the bias that `wants` asks for, in
/// that order.
///
/// # Panics
/// As `forward`.
#[allow(clippy::too_many_arguments)]
pub fn backward(geo: &ConvGeometry, pool: &PoolGeometry, x: &[f32], kernel: &[f32], pooled: &[f32], argmax: &[u8], g: &[f32], relu: bool, wants: [bool; 3]) -> Gradients {
    let parts = parts(geo, pool).expect("conv_pool_training::backward: the caller checked `applies`");
    let [want_input, want_kernel, want_bias] = wants;
    let (k, c, per_image) = (geo.patch_len(), geo.out_c, geo.out_h * geo.out_w);
    let (pooled_image, image_len) = (pool.out_h * pool.out_w * c, geo.in_h * geo.in_w * geo.in_c);
    let mut dx = if want_input { super::uninit(geo.batch * image_len) } else { Vec::new() }; // each part zeroes its images
    // Partial sums of the kernel and bias gradients, each over a fixed run of parts.
    let partials = parts.partials();
    let mut kernel_sums = if want_kernel { super::uninit(partials * k * c) } else { Vec::new() }; // a partial's first GEMM overwrites it
    let mut bias_sums = vec![0.0f32; partials * c];
    let (dx_at, kernel_at, bias_at) = (SharedMut(dx.as_mut_ptr()), SharedMut(kernel_sums.as_mut_ptr()), SharedMut(bias_sums.as_mut_ptr()));
    let simd = super::fastmath::has_avx2();
    let run = |j: usize| {
        // SAFETY: partial `j`'s sums are written by this part only.
        let kernel_sum: &mut [f32] = if want_kernel { unsafe { part_of(&kernel_at, j * k * c, k * c) } } else { &mut [] };
        let bias_sum = unsafe { part_of(&bias_at, j * c, c) };
        let mut patches = super::uninit(parts.per_part * per_image * k);
        let mut dz = super::uninit(parts.per_part * per_image * c);
        for (n, i) in parts.of_partial(j).enumerate() {
            let (first, end) = parts.images(geo, i);
            let (start, rows) = (first * per_image, (end - first) * per_image);
            let dz = &mut dz[..rows * c];
            for (b, dz) in (first..end).zip(dz.chunks_exact_mut(per_image * c)) {
                let at = b * pooled_image..(b + 1) * pooled_image;
                let (argmax, pooled, g) = (&argmax[at.clone()], &pooled[at.clone()], &g[at]);
                image_backward(pool, argmax, pooled, g, relu, dz, bias_sum, simd);
            }
            if want_kernel {
                let a = geo.fill_patches(x, 0, start, rows, &mut patches, false);
                gemm_into_serial(k, c, rows, a.t(), super::gemm::MatRef::row_major(dz, c), kernel_sum, 0, c, n > 0);
            }
            if want_input {
                // SAFETY: part `i`'s pixels scatter into its own images of `dx` only (`dx` has
                // the whole batch when `want_input`).
                let dx = unsafe { part_of(&dx_at, first * image_len, (end - first) * image_len) };
                dx.fill(0.0);
                gemm_into_serial(rows, k, c, super::gemm::MatRef::row_major(dz, c), kernel_block(geo, kernel, 0).t(), &mut patches, 0, k, false);
                geo.col2im(&patches, 0, 0, rows, dx, false);
            }
        }
    };
    parts.run_partials(geo, &run);
    let sum = |sums: &[f32], len: usize| -> Vec<f32> {
        let mut total = sums[..len].to_vec();
        for partial in sums[len..].chunks_exact(len.max(1)) {
            total.iter_mut().zip(partial).for_each(|(t, v)| *t += v);
        }
        total
    };
    Gradients {
        input: want_input.then_some(dx),
        kernel: want_kernel.then(|| sum(&kernel_sums, k * c)),
        bias: want_bias.then(|| sum(&bias_sums, c)),
    }
}

/// One image's gradient before the pooling (`dz`, the convolution's output shape) from its
/// pooled gradient `g`: each window's value to its argmax, gated by `relu` on the pooled
/// value; zeros elsewhere. What each window sends is added to `bias_sum`.
#[allow(clippy::too_many_arguments)]
fn image_backward(pool: &PoolGeometry, argmax: &[u8], pooled: &[f32], g: &[f32], relu: bool, dz: &mut [f32], bias_sum: &mut [f32], simd: bool) {
    let c = pool.channels;
    // The AVX2 loops write every cell of a window; the portable ones only the argmax. Windows
    // do not overlap, but may leave rows and columns out (pooling 'valid' with a stride above
    // the window): zero first unless the windows tile the whole image.
    let (_, rows, _, cols) = pool.window(pool.out_h.max(1) - 1, pool.out_w.max(1) - 1);
    let tiled = pool.stride_h == pool.pool_h && pool.stride_w == pool.pool_w && pool.pad_top == 0 && pool.pad_left == 0 && rows == pool.in_h && cols == pool.in_w;
    if !(simd && tiled && c % 8 == 0) {
        dz.fill(0.0);
    }
    for oy in 0..pool.out_h {
        for ox in 0..pool.out_w {
            let o = (oy * pool.out_w + ox) * c;
            let window = Window::new(pool, oy, ox);
            let (argmax, pooled, g) = (&argmax[o..o + c], &pooled[o..o + c], &g[o..o + c]);
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: the CPU has AVX2 (checked by the caller); the window lies in the image.
                unsafe { avx2::window_backward(&window, argmax, pooled, g, relu, dz, bias_sum) };
                continue;
            }
            window.epilogue_backward(argmax, pooled, g, relu, dz, bias_sum, 0);
        }
    }
}

/// The pooling window (`pool::Window`) with the fused op's epilogue and backward.
impl Window {
    /// The maximum and first argmax of the window's `activation(y + bias)` (the epilogue of the
    /// convolution, applied here while the values are read) for channels `from..`: a larger value
    /// replaces (the first cell's index stands until then, also when every value is -inf), a NaN
    /// makes the maximum NaN and the argmax `NONE`.
    #[allow(clippy::too_many_arguments)]
    fn epilogue_argmax(&self, y: &[f32], bias: &[f32], relu: bool, pooled: &mut [f32], argmax: &mut [u8], from: usize) {
        for ch in from..self.channels {
            let (mut best, mut index, mut nan) = (f32::NEG_INFINITY, 0u8, false);
            for (n, at) in self.cells().enumerate() {
                let v = y[at + ch] + bias[ch];
                // `v < 0` keeps NaN, as the ReLU activation does.
                let v = if relu && v < 0.0 { 0.0 } else { v };
                if v > best {
                    (best, index) = (v, n as u8);
                }
                nan |= v.is_nan();
            }
            (pooled[ch], argmax[ch]) = if nan { (f32::NAN, NONE) } else { (best, index) };
        }
    }

    /// `image_backward` for this window and channels `from..` (`dz` zeroed before).
    #[allow(clippy::too_many_arguments)]
    fn epilogue_backward(&self, argmax: &[u8], pooled: &[f32], g: &[f32], relu: bool, dz: &mut [f32], bias_sum: &mut [f32], from: usize) {
        for ch in from..self.channels {
            if argmax[ch] != NONE && (!relu || pooled[ch] > 0.0) {
                if let Some(at) = self.cells().nth(argmax[ch] as usize) {
                    dz[at + ch] = g[ch];
                    bias_sum[ch] += g[ch];
                }
            }
        }
    }
}

/// The window loops with AVX2 intrinsics, 8 channels at a time (the channels past a multiple
/// of 8 by the portable loops).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Window, NONE};
    use std::arch::x86_64::*;

    /// `Window::epilogue_argmax` over all channels.
    ///
    /// # Safety
    /// The CPU has AVX2; the window lies inside `y`; `bias`, `pooled` and `argmax` hold
    /// `channels` values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn window_argmax(w: &Window, y: &[f32], bias: &[f32], relu: bool, pooled: &mut [f32], argmax: &mut [u8]) {
        let c = w.channels;
        let full = c - c % 8;
        debug_assert!(bias.len() >= c && pooled.len() >= c && argmax.len() >= c && (w.y1 == w.y0 || w.x1 == w.x0 || (w.y1 - 1) * w.row + w.x1 * c <= y.len()));
        for ch in (0..full).step_by(8) {
            let b = _mm256_loadu_ps(bias.as_ptr().add(ch));
            let mut best = _mm256_set1_ps(f32::NEG_INFINITY);
            let mut index = _mm256_setzero_si256();
            let mut nan = _mm256_setzero_ps();
            let mut n = 0;
            for iy in w.y0..w.y1 {
                for ix in w.x0..w.x1 {
                    let mut v = _mm256_add_ps(_mm256_loadu_ps(y.as_ptr().add(iy * w.row + ix * c + ch)), b);
                    if relu {
                        // Below zero becomes zero; NaN stays (an ordered compare is false).
                        v = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_setzero_ps()), v);
                    }
                    // Strictly larger replaces: the first maximum stays on a tie.
                    let larger = _mm256_cmp_ps::<_CMP_GT_OQ>(v, best);
                    best = _mm256_blendv_ps(best, v, larger);
                    index = _mm256_blendv_epi8(index, _mm256_set1_epi32(n), _mm256_castps_si256(larger));
                    nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                    n += 1;
                }
            }
            // A lane that saw a NaN is NaN (all bits set) and sends no gradient.
            _mm256_storeu_ps(pooled.as_mut_ptr().add(ch), _mm256_or_ps(best, nan));
            let index = _mm256_blendv_epi8(index, _mm256_set1_epi32(NONE as i32), _mm256_castps_si256(nan));
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, index);
            argmax[ch..ch + 8].iter_mut().zip(lanes).for_each(|(a, v)| *a = v as u8);
        }
        if full < c {
            w.epilogue_argmax(y, bias, relu, pooled, argmax, full);
        }
    }

    /// `Window::epilogue_backward` over all channels: every cell of the window written (the argmax's
    /// value or zero).
    ///
    /// # Safety
    /// The CPU has AVX2; the window lies inside `dz`; `argmax`, `pooled`, `g` and `bias_sum`
    /// hold `channels` values.
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn window_backward(w: &Window, argmax: &[u8], pooled: &[f32], g: &[f32], relu: bool, dz: &mut [f32], bias_sum: &mut [f32]) {
        let c = w.channels;
        let full = c - c % 8;
        debug_assert!(argmax.len() >= c && pooled.len() >= c && g.len() >= c && bias_sum.len() >= c && (w.y1 == w.y0 || w.x1 == w.x0 || (w.y1 - 1) * w.row + w.x1 * c <= dz.len()));
        for ch in (0..full).step_by(8) {
            let index = _mm256_cvtepu8_epi32(_mm_loadl_epi64(argmax.as_ptr().add(ch) as *const __m128i));
            // Lanes whose window sends something: an argmax, and a maximum above zero for relu.
            let mut sends = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(NONE as i32), index));
            if relu {
                sends = _mm256_and_ps(sends, _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_loadu_ps(pooled.as_ptr().add(ch)), _mm256_setzero_ps()));
            }
            let sent = _mm256_and_ps(sends, _mm256_loadu_ps(g.as_ptr().add(ch)));
            let mut n = 0;
            for iy in w.y0..w.y1 {
                for ix in w.x0..w.x1 {
                    let hit = _mm256_castsi256_ps(_mm256_cmpeq_epi32(index, _mm256_set1_epi32(n)));
                    _mm256_storeu_ps(dz.as_mut_ptr().add(iy * w.row + ix * c + ch), _mm256_and_ps(hit, sent));
                    n += 1;
                }
            }
            let sum = bias_sum.as_mut_ptr().add(ch);
            _mm256_storeu_ps(sum, _mm256_add_ps(_mm256_loadu_ps(sum), sent));
        }
        if full < c {
            w.epilogue_backward(argmax, pooled, g, relu, dz, bias_sum, full);
        }
    }
}
